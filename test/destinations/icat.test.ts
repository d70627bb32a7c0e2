import { describe, expect, it } from "vitest";
import { createIcatDestination } from "../../src/destinations/icat/index.js";
import type { Snapshot } from "../../src/model/types.js";
import { createMemoryLogger } from "../../src/ops/logger.js";
import { ConfigurationError, DependencyError, PermanentError, TransientError } from "../../src/sync/errors.js";
import { DEFAULT_PLUGINS, FIXTURE, type FakeIcat, type LoggedRequest } from "../fakes/icat/index.js";
import { ICAT_PASSWORD, icatAdapterPerTest, icatConfig } from "../support/icat-setup.js";
import { smallSnapshot } from "../support/snapshot.js";

/** What is particular to ICAT: sessions, reference data, investigations, idempotent creates, updates, datafiles, paging. */

const PASSWORD = ICAT_PASSWORD;
const setup = icatAdapterPerTest();

/** The entity arrays of the write requests the fake received. */
function writeBodies(requests: readonly LoggedRequest[]): Record<string, Record<string, unknown>>[][] {
  return requests.filter((r) => r.route === "write").map((r) => JSON.parse(r.form.entities ?? "[]") as Record<string, Record<string, unknown>>[]);
}

const sessionAnswers = (fake: FakeIcat) => fake.requests.filter((r) => r.code === "SESSION");
const searchesOf = (fake: FakeIcat, entity: string) => fake.requests.filter((r) => r.route === "search" && new RegExp(`FROM ${entity} `).test(r.query.query ?? ""));

/** A beamtime that maps to the fixture investigation ab123 / id00-1. */
function fixtureBeamtimeSnapshot(runs = 1): Snapshot {
  const snapshot = smallSnapshot({ runs });
  snapshot.beamtimes = snapshot.beamtimes.map((b) => ({ ...b, proposalId: FIXTURE.investigation.name, label: FIXTURE.investigation.visitId }));
  return snapshot;
}

describe("ICAT adapter: sessions", () => {
  it("logs in once, refreshes before expiry by the server's lifetime, and logs out on close", async () => {
    const clock = { t: Date.parse("2026-03-05T09:00:00.000Z") };
    // 10-minute sessions: the adapter must learn this from /icat/properties (its own default is 120).
    const { fake, outbox, records, destination } = await setup({ clock, fake: { lifetimeMinutes: 10 } });
    const all = records();
    await outbox.pushAll(all.slice(0, 2));
    clock.t += 7 * 60_000; // 3 minutes left: above a quarter of the lifetime, no refresh yet
    await outbox.push(all[2]!);
    expect(fake.count("refresh")).toBe(0);
    clock.t += 1.5 * 60_000; // 1.5 minutes left: refresh first
    await outbox.push(all[3]!);
    expect(fake.count("refresh")).toBe(1);
    clock.t += 9 * 60_000; // past the original expiry, inside the refreshed one
    await outbox.pushAll(all.slice(4));
    expect(fake.count("properties")).toBe(1);
    expect(fake.count("login")).toBe(1);
    expect(sessionAnswers(fake)).toEqual([]);
    expect(fake.liveSessions()).toBe(1);

    await destination.close();
    expect(fake.count("logout")).toBe(1);
    expect(fake.liveSessions()).toBe(0);
  });

  it("logs in again after idling past the session's end instead of refreshing a dead session", async () => {
    const clock = { t: Date.parse("2026-03-05T09:00:00.000Z") };
    const { fake, outbox, records } = await setup({ clock, fake: { lifetimeMinutes: 10 } });
    const all = records();
    await outbox.push(all[0]!);
    clock.t += 30 * 60_000;
    await outbox.pushAll(all.slice(1));
    expect(fake.count("login")).toBe(2);
    expect(fake.count("refresh")).toBe(0);
    expect(sessionAnswers(fake)).toEqual([]);
  });

  it("on a SESSION error logs in again and replays the call once", async () => {
    const { fake, outbox, records } = await setup();
    const all = records();
    await outbox.push(all[0]!);
    fake.clearRequests();
    fake.expireSessions();
    await outbox.push(all[1]!);
    const log = fake.requests;
    const refused = log.findIndex((r) => r.code === "SESSION");
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(sessionAnswers(fake)).toHaveLength(1);
    expect(log[refused + 1]?.route).toBe("login");
    // The replay is the same call with the new session.
    const replay = log[refused + 2]!;
    expect(replay).toMatchObject({ route: log[refused]!.route, status: 200 });
    expect(replay.query.query ?? replay.form.entities).toBe(log[refused]!.query.query ?? log[refused]!.form.entities);
    expect(replay.query.sessionId ?? replay.form.sessionId).not.toBe(log[refused]!.query.sessionId ?? log[refused]!.form.sessionId);
    expect(fake.entities("Sample")).toHaveLength(1);
  });

  it("replays only once: a session refused again right after logging in is a transient failure", async () => {
    const { fake, outbox, records } = await setup();
    const all = records();
    await outbox.push(all[0]!);
    fake.inject({ route: "search", kind: "expireSessions", times: 2 });
    const error = await outbox.push(all[1]!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(sessionAnswers(fake)).toHaveLength(2);
    expect(fake.count("login")).toBe(2);
    // Next attempt: fine.
    await outbox.push(all[1]!);
    expect(fake.entities("Sample")).toHaveLength(1);
  });

  it("renews sessions that expire again and again during a long sync", async () => {
    const { fake, outbox, records } = await setup();
    const all = records(smallSnapshot({ runs: 12 }));
    for (const [i, record] of all.entries()) {
      if (i % 4 === 3) fake.expireSessions();
      await outbox.push(record);
    }
    expect(fake.entities("Dataset")).toHaveLength(12);
    expect(fake.count("login")).toBe(1 + sessionAnswers(fake).length);
    expect(sessionAnswers(fake).length).toBeGreaterThanOrEqual(3);
  });

  it("concurrent pushes share one login, one reference look-up and one re-login", async () => {
    const { fake, outbox, records } = await setup();
    const all = records(smallSnapshot({ runs: 8 }));
    const datasets = all.filter((r) => r.kind === "dataset");
    await outbox.pushAll(all.filter((r) => r.kind !== "dataset"));
    fake.expireSessions();
    await Promise.all(datasets.map((r) => outbox.push(r)));
    expect(fake.entities("Dataset")).toHaveLength(8);
    expect(fake.count("login")).toBe(2);
    expect(searchesOf(fake, "Facility")).toHaveLength(1);
  });

  it("reports refused credentials as a configuration error without the password", async () => {
    const { fake, outbox, records } = await setup({ icat: { password: "not-the-password" } });
    const error = await outbox.push(records()[0]!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/simple\/ingestor refused: The username and password do not match/);
    expect((error as Error).message).not.toContain("not-the-password");
    expect(fake.writeCount()).toBe(0);
  });

  it("tells INSUFFICIENT_PRIVILEGES (403) from SESSION (403): permanent, no new login", async () => {
    const { fake, outbox, records } = await setup({ icat: { username: "reader", password: DEFAULT_PLUGINS.simple?.users.reader } });
    const error = await outbox.push(records()[0]!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/INSUFFICIENT_PRIVILEGES \(HTTP 403\)/);
    expect(fake.count("login")).toBe(1);
  });
});

describe("ICAT adapter: reference data", () => {
  it("resolves reference data once and reuses it for every record", async () => {
    const { fake, outbox, records } = await setup();
    await outbox.pushAll(records());
    await outbox.pushAll(records());
    for (const entity of ["Facility", "DatasetType", "InvestigationType", "Instrument", "ParameterType"]) expect(searchesOf(fake, entity), entity).toHaveLength(1);
  });

  it("names every missing or unusable piece in one ConfigurationError and writes nothing", async () => {
    const { fake, outbox, records } = await setup({
      icat: {
        datasetType: "no-such-type",
        instrument: "no-such-beamline",
        parameters: {
          plan_name: { type: "plan_name", units: "N/A" },
          num_events: { type: "num_events", units: "counts" },
          scan_id: { type: "no_such_parameter", units: "N/A" },
          operator: { type: "sample_temperature", units: "K" },
        },
      },
    });
    const error = await outbox.pushAll(records()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    expect(message).toMatch(/DatasetType 'no-such-type' not found/);
    expect(message).toMatch(/Instrument 'no-such-beamline' not found/);
    expect(message).toMatch(/ParameterType 'num_events' \(units 'counts'\).*ICAT has it with units 'N\/A'/);
    expect(message).toMatch(/ParameterType 'no_such_parameter' \(units 'N\/A'\) for run field scan_id not found/);
    expect(message).toMatch(/ParameterType 'sample_temperature' \(units 'K'\) for run field operator is not applicable to datasets/);
    expect(message).not.toMatch(/plan_name/);
    expect(fake.writeCount()).toBe(0);
  });

  it("does not cache a failed resolution: once the facility adds what was missing, pushes go through", async () => {
    const { fake, outbox, records } = await setup({ icat: { datasetType: "calibration" } });
    const error = await outbox.push(records()[0]!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/calibration/);
    fake.create({ DatasetType: { facility: { id: fake.fixtures!.facility }, name: "calibration" } });
    await outbox.pushAll(records());
    expect(fake.entities("Dataset").every((d) => d.type === fake.entities("DatasetType").find((t) => t.name === "calibration")?.id)).toBe(true);
  });

  it("doctor checks pass against a well-prepared catalog and name the fix otherwise", async () => {
    const { destination, fake } = await setup();
    expect((await destination.preflight()).filter((c) => c.severity !== "ok")).toEqual([]);
    await destination.close();
    const broken = createIcatDestination(icatConfig(fake.url, { datasetType: "nope" }).destinations.icat, { logger: createMemoryLogger() });
    const checks = await broken.preflight();
    await broken.close();
    expect(checks.find((c) => c.name === "icat.datasetType")).toMatchObject({ severity: "error", fix: expect.stringMatching(/destinations\.icat\.datasetType/) });
  });

  it("doctor refuses a locationLength the server cannot store", async () => {
    const { destination } = await setup({ fake: { version: "5.0.0" }, icat: { locationLength: 511 } });
    const checks = await destination.preflight();
    expect(checks.find((c) => c.name === "icat.locationLength")).toMatchObject({ severity: "error", fix: "set destinations.icat.locationLength: 255" });
  });
});

describe("ICAT adapter: investigations", () => {
  it("createInvestigations false: a missing investigation is a ConfigurationError naming it; nothing is created", async () => {
    const { fake, outbox, records } = await setup({ icat: { createInvestigations: false } });
    const [investigation, sample] = records();
    const error = await outbox.push(investigation!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/name 'jane-doe-2026-03-05', visitId '2026-03-05' not found in facility 'MyFacility'.*createInvestigations/);
    // What depends on it waits for it (retryable), rather than failing for good.
    const waiting = await outbox.push(sample!).catch((e: unknown) => e);
    expect(waiting).toBeInstanceOf(DependencyError);
    expect(fake.writeCount()).toBe(0);
    expect(fake.entities("Investigation")).toHaveLength(1);
  });

  it("createInvestigations false: an existing investigation is matched by (facility, name, visitId) and left alone", async () => {
    const { fake, outbox, records } = await setup({ icat: { createInvestigations: false, investigationType: "not-needed-here" } });
    const results = await outbox.pushAll(records(fixtureBeamtimeSnapshot(2)));
    expect(results.map((r) => r.operation)).toEqual(["skip", "create", "create", "create"]);
    expect(results[0]?.remoteId).toBe(String(fake.fixtures!.investigation));
    expect(fake.entity("Investigation", fake.fixtures!.investigation)?.title).toBe(FIXTURE.investigation.title);
    expect(fake.entities("Dataset").every((d) => d.investigation === fake.fixtures!.investigation)).toBe(true);
    expect(writeBodies(fake.requests).flat().some((e) => "Investigation" in e)).toBe(false);
  });

  it("createInvestigations true: creates the investigation with its type and instrument link", async () => {
    const { fake, outbox, records } = await setup();
    const [result] = await outbox.pushAll(records().slice(0, 1));
    expect(result?.operation).toBe("create");
    const created = fake.entity("Investigation", Number(result?.remoteId));
    expect(created).toMatchObject({ name: "jane-doe-2026-03-05", visitId: "2026-03-05", title: "Polymer films", type: fake.fixtures!.investigationType });
    expect(created?.startDate).toBe(1772700000 * 1000);
    expect(fake.entities("InvestigationInstrument").filter((l) => l.investigation === created?.id)).toEqual([expect.objectContaining({ instrument: fake.fixtures!.instrument })]);
  });
});

describe("ICAT adapter: the proposal's groups", () => {
  it("links the investigation to its owner and reader groups, follows a change of them, and leaves other roles alone", async () => {
    const { fake, outbox, destination, records } = await setup();
    const [investigation] = records();
    const withGroups = (owner: string, readers: string[]) => ({ ...investigation!, payload: { ...investigation!.payload, groups: { owner, readers } } });
    const links = () =>
      fake
        .entities("InvestigationGroup")
        .map((g) => `${String(g.role)}:${String(fake.entity("Grouping", Number(g.grouping))?.name)}`)
        .sort();

    const [created] = await outbox.pushAll([withGroups("p-A", ["staff", "p-A-readers"])]);
    expect(created?.operation).toBe("create");
    expect(links()).toEqual(["owner:p-A", "reader:p-A-readers", "reader:staff"]);

    // Someone else's link (another role) stays; a group the proposal no longer names goes.
    const invId = Number(created!.remoteId);
    const [other] = fake.create({ Grouping: { name: "instrument-scientists" } });
    fake.create({ InvestigationGroup: { investigation: { id: invId }, grouping: { id: other }, role: "scientist" } });
    const ctx = { dependencyRemoteId: () => undefined };
    expect((await destination.push({ ...withGroups("p-A", ["staff"]), remoteId: created!.remoteId }, ctx)).operation).toBe("update");
    expect(links()).toEqual(["owner:p-A", "reader:staff", "scientist:instrument-scientists"]);
    fake.clearRequests();
    expect((await destination.push({ ...withGroups("p-A", ["staff"]), remoteId: created!.remoteId }, ctx)).operation).toBe("skip");
    expect(writeBodies(fake.requests)).toEqual([]);
    expect(fake.entities("Grouping").map((g) => g.name).sort()).toEqual(["instrument-scientists", "p-A", "p-A-readers", "staff"]);
  });
});

describe("ICAT adapter: idempotent creates", () => {
  it("finds what is already there by its unique key and creates nothing twice", async () => {
    const { fake, outbox, records } = await setup();
    const all = records();
    const [investigation, sample] = all;
    const ids = fake.fixtures!;
    const [invId] = fake.create({
      Investigation: { facility: { id: ids.facility }, type: { id: ids.investigationType }, name: investigation!.payload.name, visitId: investigation!.payload.visitId, title: "Polymer films", startDate: investigation!.payload.startDate },
    });
    fake.create({ InvestigationInstrument: { investigation: { id: invId }, instrument: { id: ids.instrument } } });
    const groups = investigation!.payload.groups as { owner: string; readers: string[] };
    for (const [name, role] of [[groups.owner, "owner"], ...groups.readers.map((r) => [r, "reader"])] as [string, string][]) {
      const [grouping] = fake.create({ Grouping: { name } });
      fake.create({ InvestigationGroup: { investigation: { id: invId }, grouping: { id: grouping }, role } });
    }
    fake.create({ Sample: { investigation: { id: invId }, name: sample!.payload.name } });
    fake.clearRequests();
    const results = await outbox.pushAll(all);
    expect(results.map((r) => r.operation)).toEqual(["skip", "skip", "create", "create", "create"]);
    expect(results[0]?.remoteId).toBe(String(invId));
    const created = writeBodies(fake.requests).flat().map((e) => Object.keys(e)[0]);
    expect(created).toEqual(["Dataset", "Dataset", "Dataset"]);
    expect(fake.entities("Investigation")).toHaveLength(2);
    expect(fake.entities("Sample")).toHaveLength(1);
  });

  it("on OBJECT_ALREADY_EXISTS from a concurrent writer, looks the dataset up again and completes it", async () => {
    const { fake, outbox, records } = await setup();
    const all = records(smallSnapshot({ runs: 1, files: 4 }));
    const dataset = all.find((r) => r.kind === "dataset")!;
    await outbox.pushAll(all.filter((r) => r.kind !== "dataset"));
    const investigation = Number(outbox.remote.get(`investigation/${dataset.payload.investigationKey as string}`));
    // Just before our create is processed, another writer creates the same dataset with one file and no parameters.
    fake.inject({
      route: "write",
      kind: "hook",
      when: (r) => (r.form.entities ?? "").includes('"Dataset"'),
      run: (f) => {
        f.create({ Dataset: { investigation: { id: investigation }, type: { id: f.fixtures!.datasetTypes.raw! }, name: dataset.payload.name, datafiles: [{ name: "2026-03-05.db" }] } });
      },
    });
    const result = await outbox.push(dataset);
    expect(fake.requests.some((r) => r.code === "OBJECT_ALREADY_EXISTS")).toBe(true);
    expect(result.operation).toBe("update");
    const [stored] = fake.entities("Dataset");
    expect(fake.entities("Dataset")).toHaveLength(1);
    expect(result.remoteId).toBe(String(stored?.id));
    expect(stored).toMatchObject({ complete: true, description: dataset.payload.description });
    expect(fake.entities("Datafile").map((d) => d.name).sort()).toEqual((dataset.payload.datafiles as { name: string }[]).map((d) => d.name).sort());
    expect(fake.entities("Datafile").find((d) => d.name === "2026-03-05.db")?.fileSize).toBe(8192);
    expect(fake.entities("DatasetParameter")).toHaveLength(3);
  });

  it("sends a run's quantities as DatasetParameters where ICAT has their ParameterType, and leaves out the rest", async () => {
    const { fake, outbox, records } = await setup();
    const snapshot = smallSnapshot({ runs: 1 });
    // energy (eV) has a ParameterType in the fixture; polarization (deg) has none: it is left out, not an error.
    snapshot.runs = snapshot.runs.map((r) => ({ ...r, metadata: { ...r.metadata, energy: { value: 285.5, units: "eV" }, polarization: { value: 90, unit: "deg" } } }));
    await outbox.pushAll(records(snapshot));
    const energy = fake.entities("DatasetParameter").filter((p) => p.type === fake.fixtures!.parameterTypes.energy);
    expect(energy.map((p) => p.numericValue)).toEqual([285.5]);
    expect(fake.entities("DatasetParameter")).toHaveLength(4);
  });

  it("ends with ONE Dataset when the answer to its create is lost after the server committed", async () => {
    const { fake, outbox, records } = await setup();
    const all = records();
    await outbox.pushAll(all.filter((r) => r.kind !== "dataset"));
    const dataset = all.find((r) => r.kind === "dataset")!;
    fake.loseResponseNext(1, { route: "write" });
    await expect(outbox.push(dataset)).rejects.toBeInstanceOf(TransientError);
    expect(fake.committedWrites()).toBeGreaterThan(0);
    const retried = await outbox.push(dataset);
    const copies = fake.entities("Dataset").filter((d) => d.name === dataset.payload.name);
    expect(copies).toHaveLength(1);
    expect(retried.remoteId).toBe(String(copies[0]?.id));
    await outbox.pushAll(all);
    expect(fake.entities("Dataset")).toHaveLength(3);
    expect(fake.entities("Datafile")).toHaveLength(3 * 8);
  });

  it("re-resolves by unique key when a remembered id is gone (NO_SUCH_OBJECT_FOUND)", async () => {
    const { fake, outbox, records } = await setup();
    const [investigation, sample] = records();
    await outbox.push(investigation!);
    // A stale hint, e.g. from before the catalog was restored from a backup.
    outbox.remote.set(`investigation/${investigation!.key}`, "999999");
    const result = await outbox.push(sample!);
    expect(result.operation).toBe("create");
    expect(fake.requests.some((r) => r.code === "NO_SUCH_OBJECT_FOUND")).toBe(true);
    expect(fake.entity("Sample", Number(result.remoteId))?.investigation).toBe(fake.entities("Investigation").find((i) => i.name === investigation!.payload.name)?.id);
  });
});

describe("ICAT adapter: updates", () => {
  it("sends only the changed attributes, updating entities in place", async () => {
    const { fake, outbox, records } = await setup();
    const before = records(smallSnapshot({ runs: 1 }));
    await outbox.pushAll(before);
    const datasetId = fake.entities("Dataset")[0]!.id;
    const parameterIds = fake.entities("DatasetParameter").map((p) => p.id);

    const changed = smallSnapshot({ runs: 1, variant: 2 });
    changed.runs[0]!.files[1]!.size = 4242;
    fake.clearRequests();
    const results = await outbox.pushAll(records(changed));
    expect(results.map((r) => r.operation)).toEqual(["update", "skip", "update"]);

    const bodies = writeBodies(fake.requests).flat();
    expect(bodies).toContainEqual({ Investigation: { id: expect.any(Number), title: "Polymer films, take 2" } });
    expect(bodies).toContainEqual({ DatasetParameter: { id: expect.any(Number), numericValue: 14 } });
    const fileUpdate = bodies.find((e) => "Datafile" in e)?.Datafile;
    expect(fileUpdate).toMatchObject({ id: expect.any(Number), fileSize: 4242 });
    // The dataset's description carries the beamtime's (dataset-text.ts), so it alone changes on the Dataset.
    expect(bodies.filter((e) => "Dataset" in e)).toEqual([{ Dataset: { id: datasetId, description: expect.stringMatching(/ — Polymer films, take 2$/) } }]);
    expect(bodies.every((e) => Object.values(e).every((fields) => "id" in fields))).toBe(true);

    expect(fake.entities("Dataset").map((d) => d.id)).toEqual([datasetId]);
    expect(fake.entities("DatasetParameter").map((p) => p.id)).toEqual(parameterIds);
    expect(fake.entities("DatasetParameter").find((p) => p.type === fake.fixtures!.parameterTypes.num_events)?.numericValue).toBe(14);
  });

  it("marks a dataset complete once its run closes, and never back", async () => {
    const { fake, outbox, records } = await setup();
    const stale = smallSnapshot({ runs: 1 });
    stale.runs[0] = { ...stale.runs[0]!, state: "stale", timeStop: undefined, exitStatus: undefined };
    await outbox.pushAll(records(stale));
    expect(fake.entities("Dataset")[0]).toMatchObject({ complete: false });
    expect(fake.entities("Dataset")[0]).not.toHaveProperty("endDate");
    await outbox.pushAll(records(smallSnapshot({ runs: 1 })));
    // The fake's default database (MySQL) keeps whole seconds.
    expect(fake.entities("Dataset")[0]).toMatchObject({ complete: true, endDate: 1772701060 * 1000 });
    await outbox.pushAll(records(stale));
    expect(fake.entities("Dataset")[0]).toMatchObject({ complete: true });
  });
});

describe("ICAT adapter: datafiles and paging", () => {
  it("sends datafiles in bounded chunks and marks the dataset complete last", async () => {
    const { fake, outbox, records } = await setup({ icat: { datafileChunk: 3 } });
    await outbox.pushAll(records(smallSnapshot({ runs: 1, files: 10 })));
    expect(fake.entities("Datafile")).toHaveLength(11);
    const bodies = writeBodies(fake.requests).filter((b) => b.some((e) => "Dataset" in e || "Datafile" in e));
    const filesPerRequest = bodies.map((b) => b.reduce((n, e) => n + ("Datafile" in e ? 1 : ((e.Dataset?.datafiles as unknown[] | undefined)?.length ?? 0)), 0));
    expect(Math.max(...filesPerRequest)).toBeLessThanOrEqual(3);
    expect(filesPerRequest.reduce((a, b) => a + b, 0)).toBe(11);
    expect(bodies[0]?.[0]?.Dataset).toMatchObject({ complete: false });
    expect(bodies.at(-1)).toEqual([{ Dataset: { id: expect.any(Number), complete: true } }]);
    expect(fake.entities("Dataset")[0]).toMatchObject({ complete: true });
  });

  it("registers a run whose path is longer than the server's location column, without the location", async () => {
    const deep = `/data/jdoe/${"nested/".repeat(45)}run`;
    const snapshot = smallSnapshot({ runs: 1, files: 2 });
    snapshot.runs = snapshot.runs.map((run) => ({ ...run, sourceFolder: deep, files: run.files.map((f, i) => ({ ...f, path: `${deep}/frame-${i}.tif` })) }));
    // ICAT 5.0 stores 255 characters; the path is 333.
    const { fake, outbox, records } = await setup({ fake: { version: "5.0.0" } });
    await outbox.pushAll(records(snapshot));
    const [dataset] = fake.entities("Dataset");
    expect(dataset).toBeDefined();
    expect(dataset?.location ?? undefined).toBeUndefined();
    const names = fake.entities("Datafile").map((f) => String(f.name));
    expect(names).toEqual(expect.arrayContaining(["frame-0.tif", "frame-1.tif"]));
  });

  it("a locationLength above what the server stores is refused with the server's words", async () => {
    const deep = `/data/jdoe/${"nested/".repeat(45)}run`;
    const snapshot = smallSnapshot({ runs: 1, files: 1 });
    snapshot.runs = snapshot.runs.map((run) => ({ ...run, sourceFolder: deep }));
    const { records, outbox } = await setup({ fake: { version: "5.0.0" }, icat: { locationLength: 511 } });
    const all = records(snapshot);
    await outbox.pushAll(all.filter((r) => r.kind !== "dataset"));
    const error = await outbox.push(all.find((r) => r.kind === "dataset")!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/length > 255/);
  });

  it("pages through big look-ups by id (id > last), never by offset, staying under maxEntities", async () => {
    const { fake, outbox, records } = await setup({ fake: { maxEntities: 40 } });
    const all = records(smallSnapshot({ runs: 1, files: 34 }));
    await outbox.pushAll(all);
    fake.clearRequests();
    const again = await outbox.pushAll(all);
    expect(again.map((r) => r.operation)).toEqual(["skip", "skip", "skip"]);
    const pages = searchesOf(fake, "Datafile").map((r) => r.query.query ?? "");
    expect(pages.length).toBeGreaterThan(2);
    const afterIds = pages.map((q) => Number(/df\.id > (\d+)/.exec(q)?.[1]));
    expect(afterIds[0]).toBe(0);
    expect(afterIds.every((id, i) => i === 0 || id > afterIds[i - 1]!)).toBe(true);
    expect(pages.every((q) => /ORDER BY df\.id LIMIT 0, \d+$/.test(q))).toBe(true);
    expect(fake.requests.some((r) => r.code === "VALIDATION")).toBe(false);
  });
});

describe("ICAT adapter: server versions", () => {
  for (const version of ["4.8.0", "4.10.0", "5.0.1"]) {
    it(`syncs against ICAT ${version} (no 5.x fields; no /properties before 4.9)`, async () => {
      const { fake, outbox, records } = await setup({ fake: { version } });
      const all = records();
      await outbox.pushAll(all);
      expect((await outbox.pushAll(all)).map((r) => r.operation)).toEqual(all.map(() => "skip"));
      expect(fake.entities("Dataset")).toHaveLength(3);
      expect(fake.requests.filter((r) => r.code === "BAD_PARAMETER")).toEqual([]);
    });
  }
});

describe("ICAT adapter: transport failures", () => {
  it("treats a proxy's non-JSON 502 and a timeout as transient", async () => {
    const { fake, outbox, records } = await setup({ icat: { timeoutMs: 300 } });
    const [investigation] = records();
    fake.failNext(1, 502, { match: { route: "write" } });
    const proxy = await outbox.push(investigation!).catch((e: unknown) => e);
    expect(proxy).toBeInstanceOf(TransientError);
    expect((proxy as Error).message).toMatch(/HTTP 502 without an ICAT error body/);
    fake.hangNext(1, { route: "write" });
    expect(await outbox.push(investigation!).catch((e: unknown) => e)).toBeInstanceOf(TransientError);
    fake.resetNext(1, { route: "search" });
    expect(await outbox.push(investigation!).catch((e: unknown) => e)).toBeInstanceOf(TransientError);
    const ok = await outbox.push(investigation!);
    expect(ok.operation).toBe("create");
    expect(fake.entities("Investigation")).toHaveLength(2);
  });

  it("keeps session ids and the password out of error messages and logs", async () => {
    const { fake, outbox, records, logger } = await setup();
    const [investigation] = records();
    await outbox.push(investigation!);
    const sessionId = fake.requests.find((r) => r.route === "search")?.query.sessionId ?? "";
    fake.expireSessions();
    fake.failNext(1, "INTERNAL", { match: { route: "write" }, message: `DB said no for session id:${sessionId}` });
    const error = await outbox.pushAll(records()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    const text = `${(error as Error).message}\n${JSON.stringify(logger.lines)}`;
    expect(sessionId).not.toBe("");
    expect(text).not.toContain(sessionId);
    expect(text).not.toContain(PASSWORD);
  });
});
