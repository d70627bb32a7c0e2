export { startScicatFake } from "./server.js";
export type { FailOptions, FaultMatch, RequestLogEntry, ScicatFake, ScicatFakeOptions, ScicatFakeUser } from "./server.js";
