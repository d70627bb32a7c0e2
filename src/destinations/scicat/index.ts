export { createScicatDestination, type ScicatDestinationDeps } from "./destination.js";
export { classifyScicatError, serverMessage, ScicatHttpError } from "./errors.js";
export { planDatablocks, splitIntoBlocks } from "./datablocks.js";
export { createScicatHttp, parseBody, ScicatTransportError, type ScicatHttp, type ScicatRequest, type ScicatResponse } from "./http.js";
