export { startFakeIcat, DEFAULT_PLUGINS } from "./server.js";
export type { FakeIcat, FakeIcatOptions, FakeRoute, FaultKind, FaultMatch, FaultSpec, LoggedRequest } from "./server.js";
export { STATUS_BY_CODE, type IcatErrorCode } from "./errors.js";
export type { DatabaseFlavour } from "./database.js";
export { FIXTURE, type FixtureIds } from "./fixtures.js";
export { formatIcatDate, parseIcatDate } from "./dates.js";
export type { Row } from "./store.js";
export type { PluginConfig } from "./sessions.js";
