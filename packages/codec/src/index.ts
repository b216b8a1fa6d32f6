export type { SubchannelAddress, TcpAddress, UnixAddress } from "./address.js";
export { DEFAULT_PORT, ipVersion, parseAddress } from "./address.js";
export type { Attributes, AttributesResult } from "./attributes.js";
export {
  EMPTY_ATTRIBUTES,
  formatAttributes,
  isAttributeKey,
  MAX_ATTRIBUTE_KEY_LENGTH,
  MAX_ATTRIBUTES,
  MAX_ATTRIBUTES_LENGTH,
  metadataAttributes,
  parseAttributes,
} from "./attributes.js";
export type { DecodedEndpoint, DecodeOptions, DecodeResult } from "./decode-endpoint.js";
export { decodeEndpoint } from "./decode-endpoint.js";
export type { EncodeOptions } from "./encode-endpoint.js";
export { encodeEndpoint } from "./encode-endpoint.js";
export type { Endpoint, Update } from "./endpoint.js";
export { Operation } from "./endpoint.js";
export { keyFromBytes, keyToBytes, printableKey } from "./key-bytes.js";
export { endpointKey, isServiceKey, servicePrefix, validateAddress, validateService } from "./keys.js";
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH } from "./limits.js";
export type { MetadataOptions } from "./metadata.js";
export { isObjectMetadata, validateMetadata } from "./metadata.js";
export type { NamingErrorCode } from "./naming-error.js";
export { NamingError } from "./naming-error.js";
export type { PauseMarker } from "./pause-marker.js";
export {
  decodePauseMarker,
  encodePauseMarker,
  endpointKeyOfMarker,
  PAUSE_MARKER_ROOT,
  pauseMarkerKey,
  pauseMarkerPrefix,
} from "./pause-marker.js";
export { redactError, redactFields, redactSecrets, USERINFO_IN_HOST_HINT } from "./redact.js";
export type { ParseTargetOptions, Target } from "./target.js";
export { formatTarget, parseTarget, startsWithScheme } from "./target.js";
