import { describe, expect, it } from "vitest";
import type { PushRecord } from "../../src/destinations/contract.js";
import type { Snapshot } from "../../src/model/types.js";
import { PermanentError, TransientError } from "../../src/sync/errors.js";
import type { FakeIcat } from "../fakes/icat/index.js";
import { icatAdapterPerTest } from "../support/icat-setup.js";
import { smallSnapshot } from "../support/snapshot.js";
import type { outboxLike } from "./conformance.js";

/**
 * Issue 20: what a real ICAT does that a kind fake hid, one block per numbered point. Each case syncs, then
 * checks that the client settles (a second push writes nothing) or fails for the right reason.
 */

const setup = icatAdapterPerTest();

/** Pushes everything twice; answers the operations and write requests of the second pass. */
async function pushTwice(outbox: ReturnType<typeof outboxLike>, fake: FakeIcat, records: PushRecord[]) {
  await outbox.pushAll(records);
  const before = fake.writeCount();
  const second = await outbox.pushAll(records);
  return { operations: second.map((r) => r.operation), writes: fake.writeCount() - before };
}

/** A snapshot whose times and file times carry milliseconds. */
function fractionalSnapshot(): Snapshot {
  const snapshot = smallSnapshot({ runs: 2, files: 3 });
  snapshot.beamtimes = snapshot.beamtimes.map((b) => ({ ...b, timeStart: 1772700000.125, timeStop: 1772790000.875 }));
  snapshot.runs = snapshot.runs.map((run) => ({ ...run, files: run.files.map((f, i) => ({ ...f, mtimeMs: f.mtimeMs + 7 + i })) }));
  return snapshot;
}

const writeBodies = (fake: FakeIcat) => fake.requests.filter((r) => r.route === "write").map((r) => r.form.entities ?? "");

describe("1. dates on a server that drops milliseconds", () => {
  for (const database of ["mysql", "oracle"] as const) {
    it(`a second push writes nothing (${database})`, async () => {
      const { fake, outbox, records } = await setup({ fake: { database } });
      const result = await pushTwice(outbox, fake, records(fractionalSnapshot()));
      expect(result).toEqual({ operations: result.operations.map(() => "skip"), writes: 0 });
    });
  }

  it("still sends a real change of a date, and on a server that keeps milliseconds a change of a few of them", async () => {
    const mysql = await setup({ fake: { database: "mysql" } });
    const snapshot = fractionalSnapshot();
    await mysql.outbox.pushAll(mysql.records(snapshot));
    snapshot.runs[0] = { ...snapshot.runs[0]!, timeStart: snapshot.runs[0]!.timeStart + 2 };
    await mysql.outbox.pushAll(mysql.records(snapshot));
    expect(writeBodies(mysql.fake).at(-1)).toMatch(/"startDate":"2026-03-05T08:56:42\.250Z"/);

    const oracle = await setup({ fake: { database: "oracle" } });
    const again = fractionalSnapshot();
    await oracle.outbox.pushAll(oracle.records(again));
    again.runs[0] = { ...again.runs[0]!, timeStart: again.runs[0]!.timeStart + 0.1 };
    await oracle.outbox.pushAll(oracle.records(again));
    expect(writeBodies(oracle.fake).at(-1)).toMatch(/"startDate":"2026-03-05T08:56:40\.350Z"/);
  });
});

describe("2. OBJECT_ALREADY_EXISTS naming a parent is a false alarm", () => {
  // A 6.2 server whose database kept the 255-character location column: the annotation (511) lets a longer path
  // through, the database refuses it, and the server's explanation finds the referenced parent.
  const unmigrated = { fake: { version: "6.2.0", columns: { "Dataset.location": 255, "Datafile.location": 255 } }, icat: { locationLength: 511 } };
  const deep = `/data/jdoe/${"nested/".repeat(40)}run`;

  it("a new dataset: permanent, reported as the false alarm with the server's words, not retried as a concurrent writer", async () => {
    const { fake, outbox, records } = await setup(unmigrated);
    const snapshot = smallSnapshot({ runs: 1, files: 1 });
    snapshot.runs = snapshot.runs.map((run) => ({ ...run, sourceFolder: deep }));
    const all = records(snapshot);
    await outbox.pushAll(all.filter((r) => r.kind !== "dataset"));
    const before = fake.writeCount();
    const error = await outbox.push(all.find((r) => r.kind === "dataset")!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/false alarm/);
    expect((error as Error).message).toMatch(/names Investigation.*Server: Investigation exists with facility = 'Facility:\d+'/);
    expect(fake.writeCount() - before).toBe(1);
  });

  it("new datafiles of an existing dataset: one request, not three rounds of comparing again", async () => {
    const { fake, outbox, records } = await setup(unmigrated);
    const snapshot = smallSnapshot({ runs: 1, files: 1 });
    await outbox.pushAll(records(snapshot));
    snapshot.runs = snapshot.runs.map((run) => ({ ...run, files: [...run.files, { path: `${deep}/frame.tif`, size: 1, mtimeMs: 1772701050000 }] }));
    const before = fake.writeCount();
    const error = await outbox.push(records(snapshot).find((r) => r.kind === "dataset")!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/names Dataset, which the request only referenced — a false alarm/);
    expect(fake.writeCount() - before).toBe(1);
  });

  it("a real clash (the same Datafile) is still a concurrent writer: compared again and settled", async () => {
    const { fake, outbox, records } = await setup();
    const snapshot = smallSnapshot({ runs: 1, files: 1 });
    const all = records(snapshot);
    await outbox.pushAll(all);
    const grown = smallSnapshot({ runs: 1, files: 2 });
    const datasetId = fake.entities("Dataset")[0]!.id;
    fake.inject({
      kind: "hook",
      route: "write",
      run: (f) => void f.create({ Datafile: { dataset: { id: datasetId }, name: "2026-03-05.zarr/runs/0123456789abcdef0123456789ab0000/image/c/1/0/0", fileSize: 101, datafileModTime: "2026-03-05T08:57:30.000Z", location: "/data/jdoe/2026-03-05.zarr/runs/0123456789abcdef0123456789ab0000/image/c/1/0/0" } }),
    });
    const result = await outbox.push(records(grown).find((r) => r.kind === "dataset")!);
    expect(result.operation).toBe("skip");
    expect(fake.entities("Datafile")).toHaveLength(3);
  });
});

describe("3. limits only the database enforces", () => {
  it("text at the column limits in multi-byte and 4-byte characters is stored and settles (Oracle bytes, MySQL utf8)", async () => {
    for (const database of ["oracle", "mysql"] as const) {
      const { fake, outbox, records, destination } = await setup({ fake: { database } });
      const snapshot = smallSnapshot({ runs: 1, files: 1 });
      snapshot.beamtimes = snapshot.beamtimes.map((b) => ({ ...b, description: `Études ${"é".repeat(300)} 🔬` }));
      snapshot.samples = snapshot.samples.map((s) => ({ ...s, name: `Probe 🧪 ${"ü".repeat(140)}` }));
      snapshot.runs = snapshot.runs.map((run) => ({ ...run, planName: `scan 🔬 ${"ö".repeat(3000)}` }));
      const result = await pushTwice(outbox, fake, records(snapshot));
      expect(result.writes).toBe(0);
      const [investigation] = fake.entities("Investigation").filter((i) => i.id !== fake.fixtures?.investigation);
      expect(Buffer.byteLength(String(investigation?.title))).toBeLessThanOrEqual(255);
      expect(String(fake.entities("Sample")[0]?.name)).not.toMatch(/🧪/u);
      await destination.close();
    }
  });

  it("numbers at Oracle's NUMBER(38,19) limits: a value stored with fewer digits settles; one beyond 1e19 is left out", async () => {
    const { fake, outbox, records, logger } = await setup({
      fake: { database: "oracle" },
      icat: { parameters: { scan_id: { type: "scan_id", units: "N/A" }, num_events: { type: "num_events", units: "N/A" } } },
    });
    const snapshot = smallSnapshot({ runs: 2, files: 1 });
    snapshot.runs = snapshot.runs.map((run, i) => ({ ...run, scanId: i === 0 ? 1.234e-21 : 2.5e20 }));
    const result = await pushTwice(outbox, fake, records(snapshot));
    expect(result.writes).toBe(0);
    const scanIds = fake.entities("DatasetParameter").filter((p) => p.type === fake.fixtures?.parameterTypes.scan_id);
    expect(scanIds.map((p) => p.numericValue)).toEqual([0]);
    expect(logger.lines.some((l) => /beyond ±1e19/.test(JSON.stringify(l)))).toBe(true);
  });
});

describe("4. a wrong JSON type is a 500 INTERNAL at the server", () => {
  it("a payload that does not fit the entity schema is refused before sending, naming the field", async () => {
    const { fake, outbox, records } = await setup();
    const all = records(smallSnapshot({ runs: 1, files: 1 }));
    await outbox.pushAll(all.filter((r) => r.kind !== "dataset"));
    const dataset = all.find((r) => r.kind === "dataset")!;
    const before = fake.writeCount();
    const bad = { ...dataset, payload: { ...dataset.payload, startDate: "2026-03-05T08:56:40Z" } };
    const error = await outbox.push(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/Dataset\.startDate must be a date/);
    const fractional = { ...dataset, payload: { ...dataset.payload, datafiles: [{ name: "f", fileSize: 1.5, datafileModTime: "2026-03-05T08:56:40.000Z" }] } };
    expect(await outbox.push(fractional).catch((e: unknown) => e)).toBeInstanceOf(PermanentError);
    expect(fake.writeCount() - before).toBe(0);
  });

  it("an INTERNAL answer caused by the request is permanent with the server's words; one from the database's health is retried", async () => {
    const { fake, outbox, records } = await setup();
    const [investigation] = records(smallSnapshot({ runs: 1 }));
    fake.failNext(1, "INTERNAL", { match: { route: "write" }, message: "class java.lang.ClassCastException class org.eclipse.parsson.JsonStringImpl cannot be cast to class jakarta.json.JsonNumber" });
    const cast = await outbox.push(investigation!).catch((e: unknown) => e);
    expect(cast).toBeInstanceOf(PermanentError);
    expect((cast as Error).message).toMatch(/ClassCastException.*cannot store this request/);
    fake.failNext(1, "INTERNAL", { match: { route: "write" } });
    expect(await outbox.push(investigation!).catch((e: unknown) => e)).toBeInstanceOf(TransientError);
  });
});

describe("5. updates cost what the children cost", () => {
  it("a changed datafile does not update its Dataset; description and complete travel in one Dataset update", async () => {
    const { fake, outbox, records } = await setup();
    const stale = smallSnapshot({ runs: 1, files: 30 });
    stale.runs[0] = { ...stale.runs[0]!, state: "stale", timeStop: undefined, exitStatus: undefined };
    await outbox.pushAll(records(stale));
    const grown = structuredClone(stale);
    grown.runs[0]!.files[1]!.size += 1;
    await outbox.pushAll(records(grown));
    expect(fake.updateLoad()).toBe(0);

    const closed = smallSnapshot({ runs: 1, files: 30 });
    closed.runs[0] = { ...closed.runs[0]!, planName: "renamed" };
    const before = writeBodies(fake).length;
    await outbox.pushAll(records(closed));
    const datasetUpdates = writeBodies(fake)
      .slice(before)
      .filter((b) => /^\[\{"Dataset":\{"id"/.test(b));
    expect(datasetUpdates).toHaveLength(1);
    expect(datasetUpdates[0]).toMatch(/"complete":true/);
    expect(datasetUpdates[0]).toMatch(/"description"/);
  });

  it("an update of a large dataset or its investigation gets a timeout that grows with the children", async () => {
    const { fake, outbox, records } = await setup({ fake: { loadDelayMs: 1 }, icat: { timeoutMs: 300 } });
    const snapshot = smallSnapshot({ runs: 1, files: 400 });
    await outbox.pushAll(records(snapshot));
    snapshot.runs[0] = { ...snapshot.runs[0]!, planName: "renamed" };
    await outbox.pushAll(records(snapshot));
    expect(fake.updateLoad()).toBeGreaterThan(400);
    expect(fake.entities("Dataset")[0]?.description).toMatch(/renamed/);

    // An Investigation whose title changes walks its whole tree too.
    const loadBefore = fake.updateLoad();
    snapshot.beamtimes = snapshot.beamtimes.map((b) => ({ ...b, description: "Polymer films, retitled" }));
    await outbox.pushAll(records(snapshot));
    expect(fake.updateLoad() - loadBefore).toBeGreaterThan(400);
    expect(fake.entities("Investigation").some((i) => i.title === "Polymer films, retitled")).toBe(true);
  });
});

describe("6. READ rules that hide relations", () => {
  it("a dataset whose INCLUDEd sample the rules hide is not given its sample again on every push", async () => {
    // The ingest user created the sample but its rules do not let it read samples back.
    const { fake, outbox, records } = await setup({ fake: { mayRead: (_user, entity) => entity !== "Sample" } });
    const all = records(smallSnapshot({ runs: 1, files: 1 }));
    await outbox.pushAll(all);
    const dataset = all.find((r) => r.kind === "dataset")!;
    expect(fake.entities("Dataset")[0]?.sample).toBe(fake.entities("Sample")[0]?.id);
    const before = fake.writeCount();
    expect((await outbox.push(dataset)).operation).toBe("skip");
    expect(fake.writeCount() - before).toBe(0);
  });

  it("a sample the rules hide from its own creator is reported as a READ rule to fix, not as a clash to retry", async () => {
    const { outbox, records } = await setup({ fake: { mayRead: (_user, entity) => entity !== "Sample" } });
    const all = records(smallSnapshot({ runs: 1, files: 1 }));
    await outbox.pushAll(all);
    const error = await outbox.push(all.find((r) => r.kind === "sample")!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/READ rules hide it — give it READ on Sample\. Server: Sample exists with/);
  });
});

describe("7. a location left out comes back as null", () => {
  it("a run whose paths are longer than the server's column settles: its datafiles are not rewritten on every push", async () => {
    const deep = `/data/jdoe/${"nested/".repeat(45)}run`;
    const snapshot = smallSnapshot({ runs: 1, files: 2 });
    snapshot.runs = snapshot.runs.map((run) => ({ ...run, sourceFolder: deep, files: run.files.map((f, i) => ({ ...f, path: `${deep}/frame-${i}.tif` })) }));
    const { fake, outbox, records } = await setup({ fake: { version: "5.0.0" } });
    const result = await pushTwice(outbox, fake, records(snapshot));
    expect(result.writes).toBe(0);
    expect(fake.entities("Datafile").every((f) => f.location === undefined || f.location === null)).toBe(true);
  });
});
