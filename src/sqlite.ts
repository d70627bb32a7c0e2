import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";

/**
 * The SQLite driver: better-sqlite3 13 (Node-API) on Node 22 and later, 12 on Node 20. better-sqlite3 12 builds
 * on Node's raw ObjectWrap, whose destructor aborts the process on Node 24.19 and later (`Assertion failed:
 * (env) != nullptr` when a statement is collected); 13 does not, but needs Node 22. Both have the same API, so
 * every caller opens databases through this one constructor and the types of 12.
 */
const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split(".")[0]);

export const Database: typeof BetterSqlite3 = (major >= 22 ? require("better-sqlite3-napi") : require("better-sqlite3")) as typeof BetterSqlite3;

/** Which driver this process uses, for `doctor` and the build info. */
export const sqliteDriver = major >= 22 ? "better-sqlite3 13 (Node-API)" : "better-sqlite3 12";
