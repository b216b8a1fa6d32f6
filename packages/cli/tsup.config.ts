import { packageBuild } from "../../tsup.preset.js";

// version.ts reads package.json through import.meta.url, which the CommonJS build must provide.
export default packageBuild({ shims: true });
