export { startScicatFake } from "./server.js";
export type { FaultMatch, RequestLogEntry, ScicatFake, ScicatFakeOptions, ScicatFakeUser } from "./server.js";
