import { randomBytes } from "node:crypto";

let counter = randomBytes(3).readUIntBE(0, 3);
const processPart = randomBytes(5).toString("hex");

/**
 * A 24-hex id shaped like MongoDB's ObjectId (4-byte seconds, 5 random bytes, 3-byte counter): what the real
 * server gives each dataFileList entry (`_id` and `id`, origdatablocks/04 notes), users and lifecycle subdocuments.
 */
export function objectId(): string {
  counter = (counter + 1) % 0x1000000;
  const seconds = Math.floor(Date.now() / 1000).toString(16).padStart(8, "0");
  return `${seconds}${processPart}${counter.toString(16).padStart(6, "0")}`;
}
