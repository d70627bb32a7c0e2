export { mapToIcat, mapToIcatWithSkips, datasetPayload, datafilesFor, fitKey, investigationPayload, investigationRef, type IcatMapping, type IcatSkip } from "./map.js";
export { datasetParameters, runFieldValue } from "./parameters.js";
export * from "./payloads.js";
