import type { Command } from "commander";
import { usageError } from "./cli-error.js";
import { NAME } from "./cli-options.js";
import type { TextSink } from "./output.js";

const SHELLS = ["bash", "zsh", "fish"] as const;

/** Every long (and short) flag of a command, from commander's own list. */
function flagsOf(cmd: Command): string[] {
  return cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
}

function bash(program: Command): string {
  const commands = program.commands.map((c) => c.name());
  const cases = program.commands
    .map((c) => `    ${c.name()}) flags="${[...flagsOf(c), "--help"].join(" ")}" ;;`)
    .join("\n");
  return `# bash completion for ${NAME}; load with: source <(${NAME} completion bash)
_etcd_naming() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" flags="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$cmd" in
${cases}
    "") flags="${[...flagsOf(program), "--help"].join(" ")}" ;;
  esac
  if [[ -z "$cmd" && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "${commands.join(" ")}" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ "$cmd" == completion ]]; then
    COMPREPLY=($(compgen -W "${SHELLS.join(" ")}" -- "$cur"))
  fi
}
complete -o default -F _etcd_naming ${NAME}
`;
}

const quote = (text: string): string => text.replace(/'/g, "'\\''");

function zsh(program: Command): string {
  const commands = program.commands.map((c) => `'${c.name()}:${quote(c.description())}'`).join(" ");
  const cases = program.commands
    .map(
      (c) => `    ${c.name()}) _values 'flag' ${[...flagsOf(c), "--help"].map((f) => `'${f}'`).join(" ")} ;;`,
    )
    .join("\n");
  return `#compdef ${NAME}
# zsh completion for ${NAME}; load with: source <(${NAME} completion zsh)
_etcd_naming() {
  local -a commands
  commands=(${commands})
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
compdef _etcd_naming ${NAME}
`;
}

function fish(program: Command): string {
  const lines = [`# fish completion for ${NAME}; load with: ${NAME} completion fish | source`];
  lines.push(`complete -c ${NAME} -f`);
  for (const c of program.commands) {
    lines.push(`complete -c ${NAME} -n __fish_use_subcommand -a ${c.name()} -d '${quote(c.description())}'`);
    for (const o of c.options) {
      const long = o.long?.replace(/^--/, "");
      if (long === undefined) continue;
      const short = o.short === undefined ? "" : ` -s ${o.short.replace(/^-/, "")}`;
      const arg = o.required || o.optional ? " -r" : "";
      lines.push(
        `complete -c ${NAME} -n '__fish_seen_subcommand_from ${c.name()}' -l ${long}${short}${arg} -d '${quote(o.description)}'`,
      );
    }
  }
  lines.push(`complete -c ${NAME} -n '__fish_seen_subcommand_from completion' -a '${SHELLS.join(" ")}'`);
  return `${lines.join("\n")}\n`;
}

/** `completion <shell>`: prints the completion script built from the program's own commands and flags. */
export function completionCommand(stdout: TextSink, shell: string, program: Command): number {
  if (shell === "bash") stdout.write(bash(program));
  else if (shell === "zsh") stdout.write(zsh(program));
  else if (shell === "fish") stdout.write(fish(program));
  else throw usageError(`unknown shell ${JSON.stringify(shell)}: expected bash, zsh or fish`);
  return 0;
}
