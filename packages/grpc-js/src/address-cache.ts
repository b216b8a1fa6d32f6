import { addressId, parseAddress, type SubchannelAddress } from "./address.js";
import { SpreadMap } from "./spread-set.js";

/** A registered address text, parsed: the address and its id; a null address when it cannot be dialled. */
export interface KnownAddress {
  readonly address: SubchannelAddress | null;
  /** The address as a grpc-js endpoint (`{ addresses: [address] }`), made once; null when it cannot be dialled. */
  readonly endpoint: { readonly addresses: SubchannelAddress[] } | null;
  /** The address's id ({@link addressId}); empty when it cannot be dialled. */
  readonly id: string;
  /** The entry whose id this address has (itself for the usual `host:port`): it carries the pass mark. */
  readonly owner: KnownAddress;
  /** The last pass that looked this text up. */
  used: number;
  /** The last pass that kept an endpoint with this id (on the owner only). */
  kept: number;
}

// Rebuilt without the texts the last pass did not look up once it holds this many more than twice that pass.
const SLACK = 1024;

let passes = 0;

/** A known address that can be dialled. */
export interface DialableAddress extends KnownAddress {
  readonly address: SubchannelAddress;
  readonly endpoint: { readonly addresses: SubchannelAddress[] };
}

export function isDialable(known: KnownAddress): known is DialableAddress {
  return known.address !== null;
}

/**
 * Parsed addresses by their registered text, and the duplicate check of one selection, in one table.
 * Parsing is deterministic, so a text is parsed once while it stays registered (churn on a large service
 * parses only what changed), and one look-up per endpoint both finds the parse and tells whether the
 * address was already kept in this pass: a first resolution of 10,000 endpoints fills one table (spread
 * over small ones, see spread-set.ts) instead of a parse cache keyed by endpoint object and a set of the
 * addresses seen.
 */
export class AddressCache {
  readonly #byText = new SpreadMap<KnownAddress>();
  /** The duplicate marks of ids that were registered under another text too (rare). */
  readonly #byId = new Map<string, KnownAddress>();
  #pass = 0;
  #looked = 0;

  /** Starts a pass over one set of about `expected` endpoints (a selection). */
  begin(expected: number): void {
    this.#byText.reserve(expected);
    // Global, so a cache shared by several channels never sees an older pass's mark as its own.
    this.#pass = ++passes;
    this.#looked = 0;
  }

  /** The parse of `addr`. */
  lookup(addr: string): KnownAddress {
    let known = this.#byText.get(addr);
    if (known === undefined) {
      known = this.#parse(addr);
      this.#byText.set(addr, known);
    }
    if (known.used !== this.#pass) {
      known.used = this.#pass;
      this.#looked++;
      if (known.owner !== known) known.owner.used = this.#pass;
    }
    return known;
  }

  /** Marks `known`'s id kept in this pass; false when an endpoint with that id already was. */
  keep(known: KnownAddress): boolean {
    const owner = known.owner;
    if (owner.kept === this.#pass) return false;
    owner.kept = this.#pass;
    return true;
  }

  /** Ends the pass: drops the texts it did not look up, once they are many. */
  end(): void {
    if (this.#byText.size <= 2 * this.#looked + SLACK) return;
    const pass = this.#pass;
    this.#byText.retain((known) => known.used === pass);
    for (const [id, owner] of this.#byId) if (owner.used !== pass) this.#byId.delete(id);
  }

  #parse(addr: string): KnownAddress {
    const address = parseAddress(addr);
    if (address === null) return ownedBy(null, "", undefined);
    const id = addressId(addr, address);
    if (id === addr) return ownedBy(address, id, this.#byId.get(id));
    // Another text for the same address (`10.0.0.1:080`): every text of one id shares one duplicate mark.
    const canonical = this.#byText.get(id);
    if (canonical !== undefined && canonical.id === id) return ownedBy(address, id, canonical.owner);
    let owner = this.#byId.get(id);
    if (owner === undefined) {
      owner = ownedBy(address, id, undefined);
      this.#byId.set(id, owner);
    }
    return ownedBy(address, id, owner);
  }
}

/** An entry whose duplicate mark is `owner`'s, or its own when there is none. */
function ownedBy(
  address: SubchannelAddress | null,
  id: string,
  owner: KnownAddress | undefined,
): KnownAddress {
  const endpoint = address === null ? null : { addresses: [address] };
  const known = { address, endpoint, id, owner: owner as KnownAddress, used: 0, kept: 0 };
  if (owner === undefined) known.owner = known;
  return known;
}
