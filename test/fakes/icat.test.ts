import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat, type FakeIcatOptions } from "./icat/index.js";

/** The fake ICAT behaves as icat-api.md describes the real server. */

const PASSWORD = DEFAULT_PLUGINS.simple?.users.ingestor ?? "";

interface Answer {
  status: number;
  json: unknown;
  text: string;
  contentType: string | null;
}

function client(fake: FakeIcat) {
  const call = async (method: string, path: string, options: { query?: Record<string, string>; form?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Answer> => {
    const url = new URL(`/icat${path}`, fake.url);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    const res = await fetch(url, {
      method,
      ...(options.form ? { body: new URLSearchParams(options.form) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, contentType: res.headers.get("content-type") };
  };
  const login = async (username = "ingestor", password = PASSWORD, plugin = "simple") => {
    const a = await call("POST", "/session", { form: { json: JSON.stringify({ plugin, credentials: [{ username }, { password }] }) } });
    return a;
  };
  return {
    call,
    login,
    async session(): Promise<string> {
      const a = await login();
      expect(a.status).toBe(200);
      return (a.json as { sessionId: string }).sessionId;
    },
    write: (sessionId: string, entities: unknown) => call("POST", "/entityManager", { form: { sessionId, entities: JSON.stringify(entities) } }),
    search: (sessionId: string, query: string) => call("GET", "/entityManager", { query: { sessionId, query } }),
  };
}

let fake: FakeIcat;
let icat: ReturnType<typeof client>;

async function start(options: FakeIcatOptions = {}) {
  fake = await startFakeIcat({ fixtures: true, ...options });
  icat = client(fake);
}

afterEach(async () => {
  await fake?.close();
});

describe("routing and transport", () => {
  beforeEach(() => start({ version: "5.0.1" }));

  it("answers unknown paths with 501 NOT_IMPLEMENTED as JSON", async () => {
    const a = await icat.call("GET", "/no/such/thing");
    expect(a.status).toBe(501);
    expect(a.json).toEqual({ code: "NOT_IMPLEMENTED", message: "Operation not implemented by this ICAT server." });
  });

  it("reports its configured version and properties", async () => {
    expect((await icat.call("GET", "/version")).json).toEqual({ version: "5.0.1" });
    const props = (await icat.call("GET", "/properties")).json as Record<string, unknown>;
    expect(props).toMatchObject({ maxEntities: 10000, lifetimeMinutes: 120 });
    expect(props.authenticators).toEqual([{ mnemonic: "simple", keys: [{ name: "username" }, { name: "password", hide: true }] }]);
  });

  it("has no /properties before 4.9", async () => {
    await fake.close();
    await start({ version: "4.8.0" });
    expect((await icat.call("GET", "/properties")).status).toBe(501);
  });

  it("takes writes only as form fields", async () => {
    const sessionId = await icat.session();
    const res = await fetch(`${fake.url}/icat/entityManager`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessionId, entities: "[]" }),
    });
    const body = (await res.json()) as { code: string };
    expect(res.status).toBe(403);
    expect(body.code).toBe("SESSION");
    expect(fake.requests.at(-1)?.form).toEqual({});
  });
});

describe("sessions", () => {
  beforeEach(() => start({ lifetimeSeconds: 60 }));

  it("logs in with one-key credential objects and returns a UUID", async () => {
    const a = await icat.login();
    expect(a.status).toBe(200);
    expect((a.json as { sessionId: string }).sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const info = await icat.call("GET", `/session/${(a.json as { sessionId: string }).sessionId}`);
    expect(info.json).toMatchObject({ userName: "simple/ingestor" });
    expect((info.json as { remainingMinutes: number }).remainingMinutes).toBeCloseTo(1, 1);
  });

  it("rejects bad credentials, unknown plugins and a missing json field with the server's codes", async () => {
    expect(await icat.login("ingestor", "wrong")).toMatchObject({ status: 403, json: { code: "SESSION", message: "The username and password do not match " } });
    expect(await icat.login("ingestor", PASSWORD, "ldap")).toMatchObject({ status: 403, json: { code: "SESSION", message: "Authenticator mnemonic ldap not recognised" } });
    expect(await icat.call("POST", "/session", { form: {} })).toMatchObject({ status: 400, json: { code: "BAD_PARAMETER", message: "json must not be null" } });
  });

  it("expires sessions by its clock; refresh extends them; logout ends them", async () => {
    const sessionId = await icat.session();
    fake.advanceClock(50_000);
    expect((await icat.call("PUT", `/session/${sessionId}`)).status).toBe(204);
    fake.advanceClock(50_000);
    expect((await icat.search(sessionId, "SELECT f FROM Facility f")).status).toBe(200);
    fake.advanceClock(11_000);
    const expired = await icat.search(sessionId, "SELECT f FROM Facility f");
    expect(expired).toMatchObject({ status: 403, json: { code: "SESSION", message: `Session id:${sessionId} has expired` } });
    expect((await icat.call("GET", `/session/${sessionId}`)).status).toBe(403);

    const other = await icat.session();
    expect((await icat.call("DELETE", `/session/${other}`)).status).toBe(204);
    expect(await icat.search(other, "SELECT f FROM Facility f")).toMatchObject({
      status: 403,
      json: { code: "SESSION", message: `Unable to find user by sessionid: ${other}` },
    });
  });

  it("expireSessions ends every session at once; a new login works", async () => {
    const sessionId = await icat.session();
    fake.expireSessions();
    expect((await icat.search(sessionId, "SELECT f FROM Facility f")).json).toMatchObject({ code: "SESSION", message: `Session id:${sessionId} has expired` });
    expect(fake.liveSessions()).toBe(0);
    const fresh = await icat.session();
    expect((await icat.search(fresh, "SELECT f FROM Facility f")).status).toBe(200);
  });
});

describe("writes", () => {
  let sessionId: string;
  beforeEach(async () => {
    await start();
    sessionId = await icat.session();
  });

  const ids = () => fake.fixtures!;

  it("creates a dataset with nested parameters and datafiles in one request; answers only top-level ids", async () => {
    const a = await icat.write(sessionId, [
      {
        Dataset: {
          investigation: { id: ids().investigation },
          type: { id: ids().datasetTypes.raw },
          name: "scan_0001",
          startDate: "2024-01-31T10:00:00.000+01:00",
          parameters: [{ type: { id: ids().parameterTypes.plan_name }, stringValue: "count" }],
          datafiles: [{ name: "a.h5", location: "/d/a.h5", fileSize: 10 }, { name: "b.h5" }],
        },
      },
    ]);
    expect(a.status).toBe(200);
    const [datasetId] = a.json as number[];
    expect(a.json).toHaveLength(1);
    const files = fake.entities("Datafile");
    expect(files.map((f) => [f.name, f.dataset])).toEqual([
      ["a.h5", datasetId],
      ["b.h5", datasetId],
    ]);
    expect(fake.entities("DatasetParameter")[0]).toMatchObject({ dataset: datasetId, stringValue: "count" });
    expect(fake.entity("Dataset", datasetId!)).toMatchObject({ complete: false, createId: "simple/ingestor" });
  });

  it("uses one id sequence for every entity type, with gaps when asked", async () => {
    const all = ["Facility", "InvestigationType", "DatasetType", "Instrument", "ParameterType", "User", "Investigation", "InvestigationInstrument", "InvestigationUser"]
      .flatMap((e) => fake.entities(e).map((r) => r.id))
      .sort((x, y) => x - y);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));

    await fake.close();
    await start({ maxIdGap: 5, firstId: 1000 });
    const gapped = fake.entities("ParameterType").map((r) => r.id);
    expect(gapped[0]).toBeGreaterThanOrEqual(1000);
    expect(gapped.some((id, i) => i > 0 && id - (gapped[i - 1] as number) > 1)).toBe(true);
  });

  it("rejects unknown fields with 400 BAD_PARAMETER and the offset of the failing item", async () => {
    const a = await icat.write(sessionId, [
      { Sample: { investigation: { id: ids().investigation }, name: "s1" } },
      { Dataset: { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name: "x", colour: "red" } },
    ]);
    expect(a).toMatchObject({ status: 400, json: { code: "BAD_PARAMETER", message: "Field colour not found in Dataset", offset: 1 } });
    expect(fake.entities("Sample")).toHaveLength(0);
  });

  it("gates fields by version: fileSize on Dataset is unknown before 5.0", async () => {
    await fake.close();
    await start({ version: "4.10.0" });
    sessionId = await icat.session();
    const a = await icat.write(sessionId, { Dataset: { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name: "x", fileSize: 1 } });
    expect(a.json).toMatchObject({ code: "BAD_PARAMETER", message: "Field fileSize not found in Dataset" });
  });

  it("checks JSON types of attributes: a mistyped value escapes parseEntity as a Java exception, 500 INTERNAL", async () => {
    const base = { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name: "x" };
    expect((await icat.write(sessionId, { Dataset: { ...base, complete: "yes" } })).json).toMatchObject({ code: "BAD_PARAMETER" });
    expect(await icat.write(sessionId, { Dataset: { ...base, name: 12 } })).toMatchObject({ status: 500, json: { code: "INTERNAL", message: expect.stringContaining("ClassCastException") } });
    const fractional = await icat.write(sessionId, { Dataset: { ...base, datafiles: [{ name: "f", fileSize: 1.5 }] } });
    expect(fractional).toMatchObject({ status: 500, json: { code: "INTERNAL", message: "class java.lang.ArithmeticException Rounding necessary", offset: 0 } });
    expect(fake.entities("Dataset")).toHaveLength(0);
  });

  it("accepts only yyyy-MM-dd'T'HH:mm:ss.SSSXXX dates, with SimpleDateFormat's quirks", async () => {
    await fake.close();
    await start({ database: "oracle" });
    sessionId = await icat.session();
    const base = { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw } };
    const noMillis = await icat.write(sessionId, { Dataset: { ...base, name: "a", startDate: "2024-01-31T12:00:00Z" } });
    expect(noMillis).toMatchObject({ status: 400, json: { code: "BAD_PARAMETER", message: 'Badly formatted date "2024-01-31T12:00:00Z"' } });
    expect((await icat.write(sessionId, { Dataset: { ...base, name: "b", startDate: "2024-01-31T12:00:00+01:00" } })).status).toBe(400);

    await icat.write(sessionId, [
      { Dataset: { ...base, name: "c", startDate: "2024-01-31T12:00:00.5Z" } },
      { Dataset: { ...base, name: "d", startDate: "2024-01-31T12:00:00.123456+01:00" } },
    ]);
    const byName = Object.fromEntries(fake.entities("Dataset").map((d) => [d.name, d.startDate]));
    expect(byName.c).toBe(Date.parse("2024-01-31T12:00:00.005Z"));
    expect(byName.d).toBe(Date.parse("2024-01-31T11:02:03.456Z"));

    // Output: the server's zone (+01:00 by default), always with millis.
    const out = (await icat.search(sessionId, "SELECT ds.startDate FROM Dataset ds WHERE ds.name = 'c'")).json;
    expect(out).toEqual(["2024-01-31T13:00:00.005+01:00"]);
  });

  it("answers 412 VALIDATION for missing not-null fields and over-long strings", async () => {
    const a = await icat.write(sessionId, { Dataset: { investigation: { id: ids().investigation }, name: "x" } });
    expect(a).toMatchObject({ status: 412, json: { code: "VALIDATION", message: "Dataset: type cannot be null.", offset: 0 } });
    const b = await icat.write(sessionId, { Facility: { name: "n".repeat(256) } });
    expect(b.json).toMatchObject({ code: "VALIDATION", message: "Facility: name cannot have length > 255" });
  });

  it("answers 404 for a many-to-one id that does not exist, and 400 for the wrong direction", async () => {
    const a = await icat.write(sessionId, { Dataset: { investigation: { id: 999999 }, type: { id: ids().datasetTypes.raw }, name: "x" } });
    expect(a).toMatchObject({ status: 404, json: { code: "NO_SUCH_OBJECT_FOUND", message: "Investigation[id:999999] not found." } });
    const b = await icat.write(sessionId, { Dataset: { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name: "x", datafiles: [{ id: 5 }] } });
    expect(b.json).toMatchObject({ code: "BAD_PARAMETER" });
    const c = await icat.write(sessionId, { Dataset: { investigation: { name: "ab123" }, type: { id: ids().datasetTypes.raw }, name: "x" } });
    expect(c.json).toMatchObject({ code: "BAD_PARAMETER" });
    const d = await icat.write(sessionId, { Dataset: [{ name: "x" }] });
    expect(d.json).toMatchObject({ code: "BAD_PARAMETER", message: expect.stringContaining("Unexpected array found in JSON [{") });
  });

  it("enforces uniqueness against the store and within one request, rolling back the whole request", async () => {
    const sample = { Sample: { investigation: { id: ids().investigation }, name: "s1" } };
    expect((await icat.write(sessionId, sample)).status).toBe(200);
    const again = await icat.write(sessionId, [{ Sample: { investigation: { id: ids().investigation }, name: "s2" } }, sample]);
    expect(again).toMatchObject({
      status: 412,
      json: { code: "OBJECT_ALREADY_EXISTS", message: `Sample exists with investigation = 'Investigation:${ids().investigation}', name = 's1'`, offset: 1 },
    });
    const twice = await icat.write(sessionId, [
      { Sample: { investigation: { id: ids().investigation }, name: "s3" } },
      { Sample: { investigation: { id: ids().investigation }, name: "s3" } },
    ]);
    expect(twice).toMatchObject({ status: 412, json: { code: "OBJECT_ALREADY_EXISTS", message: `Sample exists with investigation = 'id:${ids().investigation}', name = 's3'`, offset: 1 } });
    expect(fake.entities("Sample").map((s) => s.name)).toEqual(["s1"]);

    const dupParams = await icat.write(sessionId, {
      Dataset: {
        investigation: { id: ids().investigation },
        type: { id: ids().datasetTypes.raw },
        name: "p",
        parameters: [
          { type: { id: ids().parameterTypes.plan_name }, stringValue: "a" },
          { type: { id: ids().parameterTypes.plan_name }, stringValue: "b" },
        ],
      },
    });
    expect(dupParams.json).toMatchObject({ code: "OBJECT_ALREADY_EXISTS" });
    expect(fake.entities("Dataset")).toHaveLength(0);
  });

  it("checks parameter applicability and enforced ranges", async () => {
    const dataset = (parameters: unknown[]) => ({
      Dataset: { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name: "p", parameters },
    });
    const notApplicable = await icat.write(sessionId, dataset([{ type: { id: ids().parameterTypes.sample_temperature }, numericValue: 295 }]));
    expect(notApplicable).toMatchObject({ status: 412, json: { code: "VALIDATION", message: "Parameter of type sample_temperature is not applicable to a Dataset" } });
    const tooHigh = await icat.write(sessionId, dataset([{ type: { id: ids().parameterTypes.energy }, numericValue: 50000 }]));
    expect(tooHigh.json).toMatchObject({ code: "VALIDATION", message: "Parameter of type energy has value 50000.0 > 30000.0" });
    const ok = await icat.write(sessionId, dataset([{ type: { id: ids().parameterTypes.energy }, numericValue: 8000 }]));
    expect(ok.status).toBe(200);
    // Limits are checked on update too (Parameter.check runs again after a merge).
    const parameter = fake.entities("DatasetParameter")[0]!;
    const update = await icat.write(sessionId, { DatasetParameter: { id: parameter.id, numericValue: 5 } });
    expect(update.json).toMatchObject({ code: "VALIDATION", message: "Parameter of type energy has value 5.0 < 10.0" });
    const datasetId = (ok.json as number[])[0]!;
    // The value field is not checked against valueType for types that are not enforced (only a client rule).
    const mismatch = await icat.write(sessionId, { DatasetParameter: { dataset: { id: datasetId }, type: { id: ids().parameterTypes.num_events }, stringValue: "many" } });
    expect(mismatch.status).toBe(200);
    // Applicability is checked when a parameter is created, not when it is updated (DatasetParameter.preparePersist).
    fake.create({ ParameterType: { id: ids().parameterTypes.num_events, applicableToDataset: false } });
    const [numEvents] = fake.entities("DatasetParameter").filter((p) => p.type === ids().parameterTypes.num_events);
    expect((await icat.write(sessionId, { DatasetParameter: { id: numEvents!.id, stringValue: "more" } })).status).toBe(200);
  });

  it("stores SampleParameters as the server does: nested in a Sample or on their own, applicable to samples only, one per (sample, type)", async () => {
    const types = ids().parameterTypes;
    const created = await icat.write(sessionId, {
      Sample: { investigation: { id: ids().investigation }, name: "S-0001", parameters: [{ type: { id: types.tray }, stringValue: "T1" }, { type: { id: types.sample_temperature }, numericValue: 295 }] },
    });
    expect(created.status, created.text).toBe(200);
    const [sampleId] = created.json as number[];
    expect(created.json).toHaveLength(1);
    expect(fake.entities("SampleParameter").map((p) => [p.sample, p.type, p.stringValue ?? p.numericValue])).toEqual([
      [sampleId, types.tray, "T1"],
      [sampleId, types.sample_temperature, 295],
    ]);
    // SampleParameter.preparePersist: the type must be applicable to samples.
    const notApplicable = await icat.write(sessionId, { SampleParameter: { sample: { id: sampleId }, type: { id: types.plan_name }, stringValue: "x" } });
    expect(notApplicable).toMatchObject({ status: 412, json: { code: "VALIDATION", message: "Parameter of type plan_name is not applicable to a Sample" } });
    // Unique (sample, type): a second one of a type is refused, whole request rolled back.
    const duplicate = await icat.write(sessionId, [
      { SampleParameter: { sample: { id: sampleId }, type: { id: types.slot }, stringValue: "A1" } },
      { SampleParameter: { sample: { id: sampleId }, type: { id: types.tray }, stringValue: "T2" } },
    ]);
    expect(duplicate.json).toMatchObject({ code: "OBJECT_ALREADY_EXISTS", offset: 1 });
    expect(fake.entities("SampleParameter")).toHaveLength(2);
    // Added alone, updated by id, found by its sample, removed with its sample.
    expect((await icat.write(sessionId, { SampleParameter: { sample: { id: sampleId }, type: { id: types.slot }, stringValue: "A1" } })).status).toBe(200);
    const slot = fake.entities("SampleParameter").find((p) => p.type === types.slot)!;
    expect((await icat.write(sessionId, { SampleParameter: { id: slot.id, stringValue: "B2" } })).json).toEqual([]);
    const found = await icat.search(sessionId, `SELECT p.id, p.type.name, p.stringValue FROM SampleParameter p WHERE p.sample.id = ${sampleId} AND p.id > 0 ORDER BY p.id LIMIT 0, 10`);
    expect((found.json as unknown[][]).map(([, type, value]) => [type, value])).toEqual([
      ["tray", "T1"],
      ["sample_temperature", null],
      ["slot", "B2"],
    ]);
    expect((await icat.call("DELETE", "/entityManager", { query: { sessionId, entities: JSON.stringify([{ Sample: { id: sampleId } }]) } })).status).toBe(204);
    expect(fake.entities("SampleParameter")).toHaveLength(0);
  });

  it("updates only the listed fields when the object has an id, answering []", async () => {
    const [id] = (await icat.write(sessionId, { Dataset: { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name: "u", description: "keep" } })).json as number[];
    const a = await icat.write(sessionId, [{ Dataset: { id, complete: true } }]);
    expect(a).toMatchObject({ status: 200, json: [] });
    expect(fake.entity("Dataset", id!)).toMatchObject({ complete: true, description: "keep", name: "u" });
    expect((await icat.write(sessionId, { Dataset: { id: 424242, complete: true } })).json).toMatchObject({ code: "NO_SUCH_OBJECT_FOUND" });
  });

  it("refuses writes of a user without privileges with INSUFFICIENT_PRIVILEGES (403, not SESSION)", async () => {
    const reader = (await icat.login("reader", DEFAULT_PLUGINS.simple?.users.reader)).json as { sessionId: string };
    const a = await icat.write(reader.sessionId, { Sample: { investigation: { id: ids().investigation }, name: "r" } });
    expect(a).toMatchObject({ status: 403, json: { code: "INSUFFICIENT_PRIVILEGES" } });
  });

  it("deletes by id only, cascading over one-to-many relations", async () => {
    const [id] = (await icat.write(sessionId, {
      Dataset: { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name: "del", datafiles: [{ name: "a" }, { name: "b" }] },
    })).json as number[];
    const bad = await icat.call("DELETE", "/entityManager", { query: { sessionId, entities: JSON.stringify({ Dataset: { id, name: "del" } }) } });
    expect(bad.json).toMatchObject({ code: "BAD_PARAMETER" });
    const ok = await icat.call("DELETE", "/entityManager", { query: { sessionId, entities: JSON.stringify([{ Dataset: { id } }]) } });
    expect(ok.status).toBe(204);
    expect(fake.entities("Datafile")).toHaveLength(0);
    expect(fake.entities("Dataset")).toHaveLength(0);
  });

  it("answers missing parameters with the server's texts", async () => {
    expect((await icat.call("POST", "/entityManager", { form: { sessionId } })).json).toEqual({ code: "BAD_PARAMETER", message: "entities is not set" });
    expect((await icat.call("GET", "/entityManager", { query: { sessionId } })).json).toEqual({ code: "BAD_PARAMETER", message: "query is not set" });
  });
});

describe("what the database and the rules do (issue 20)", () => {
  let sessionId: string;
  const ids = () => fake.fixtures!;
  const dataset = (name: string, extra: Record<string, unknown> = {}) => ({
    Dataset: { investigation: { id: ids().investigation }, type: { id: ids().datasetTypes.raw }, name, ...extra },
  });
  const createDataset = async (name: string): Promise<number> => {
    const a = await icat.write(sessionId, dataset(name));
    expect(a.status).toBe(200);
    return (a.json as number[])[0]!;
  };
  const falseAlarmNaming = (entity: string) => ({ status: 412, json: { code: "OBJECT_ALREADY_EXISTS", message: expect.stringMatching(new RegExp(`^${entity} exists with `)) } });

  it("1. MySQL/MariaDB DATETIME drops the milliseconds (also of createTime and modTime); Oracle TIMESTAMP keeps them", async () => {
    for (const database of ["mysql", "oracle"] as const) {
      await fake?.close();
      await start({ database });
      sessionId = await icat.session();
      await icat.write(sessionId, dataset("t", { startDate: "2026-03-05T08:56:47.250Z" }));
      const [row] = fake.entities("Dataset");
      const out = (await icat.search(sessionId, "SELECT ds.startDate FROM Dataset ds WHERE ds.name = 't'")).json;
      if (database === "mysql") {
        expect(row).toMatchObject({ startDate: Date.parse("2026-03-05T08:56:47.000Z") });
        expect(row!.createTime % 1000).toBe(0);
        expect(out).toEqual(["2026-03-05T09:56:47.000+01:00"]);
      } else {
        expect(out).toEqual(["2026-03-05T09:56:47.250+01:00"]);
      }
    }
  });

  it("2+3. a string the annotation allows but Oracle's VARCHAR2 bytes cannot hold: a false OBJECT_ALREADY_EXISTS naming the parent", async () => {
    await start({ database: "oracle" });
    sessionId = await icat.session();
    const id = await createDataset("bytes");
    // 300 characters (isValid passes: 511), 600 bytes: the flush fails, the explanation finds the referenced Dataset itself.
    const a = await icat.write(sessionId, { Datafile: { dataset: { id }, name: "f", location: "é".repeat(300) } });
    expect(a).toMatchObject(falseAlarmNaming("Dataset"));
    expect((a.json as { message: string }).message).toBe(`Dataset exists with investigation = 'Investigation:${ids().investigation}', name = 'bytes'`);
    // An update names the updated entity itself.
    expect(await icat.write(sessionId, { Dataset: { id, description: "ü".repeat(200) } })).toMatchObject(falseAlarmNaming("Dataset"));
    expect(fake.entities("Datafile")).toHaveLength(0);
    // A real clash among the new rows is still named as the new row.
    await icat.write(sessionId, { Datafile: { dataset: { id }, name: "g" } });
    expect(await icat.write(sessionId, { Datafile: { dataset: { id }, name: "g", location: "é".repeat(300) } })).toMatchObject(falseAlarmNaming("Datafile"));
  });

  it("3. MySQL utf8 refuses 4-byte characters; with nothing referenced the answer is INTERNAL 'Unexpected DB response'", async () => {
    await start({ database: "mysql" });
    sessionId = await icat.session();
    const a = await icat.write(sessionId, { Facility: { name: "emoji", fullName: "Beamline \u{1F52C}" } });
    expect(a).toMatchObject({ status: 500, json: { code: "INTERNAL", message: expect.stringMatching(/^Unexpected DB response .*Incorrect string value: '\\xF0\\x9F\\x94\\xAC'/) } });
    const id = await createDataset("four-byte");
    expect(await icat.write(sessionId, { Dataset: { id, description: "\u{1F52C}" } })).toMatchObject(falseAlarmNaming("Dataset"));
  });

  it("3. Oracle NUMBER(38,19): tiny values lose digits, 19 integer digits at most; MySQL DOUBLE keeps both", async () => {
    for (const database of ["oracle", "mysql"] as const) {
      await fake?.close();
      await start({ database });
      sessionId = await icat.session();
      const id = await createDataset("numbers");
      const type = { id: ids().parameterTypes.num_events };
      const tiny = await icat.write(sessionId, { DatasetParameter: { dataset: { id }, type, numericValue: 1.25e-21 } });
      expect(tiny.status).toBe(200);
      expect(fake.entities("DatasetParameter")[0]?.numericValue).toBe(database === "oracle" ? 0 : 1.25e-21);
      const huge = await icat.write(sessionId, { DatasetParameter: { dataset: { id }, type: { id: ids().parameterTypes.scan_id }, numericValue: 1e20 } });
      if (database === "oracle") expect(huge).toMatchObject(falseAlarmNaming("Dataset"));
      else expect(huge.status).toBe(200);
    }
  });

  it("3. a 6.2 server whose database kept the 255-character location column refuses 256 to 511 characters", async () => {
    await start({ version: "6.2.0", columns: { "Datafile.location": 255 } });
    sessionId = await icat.session();
    const id = await createDataset("unmigrated");
    expect(await icat.write(sessionId, { Datafile: { dataset: { id }, name: "f", location: "/d".repeat(150) } })).toMatchObject(falseAlarmNaming("Dataset"));
    expect((await icat.write(sessionId, { Datafile: { dataset: { id }, name: "f", location: "/d".repeat(120) } })).status).toBe(200);
  });

  it("5. an update of a Dataset loads its parameters and datafiles; an update of a Datafile loads nothing more", async () => {
    await start();
    sessionId = await icat.session();
    const [id] = (await icat.write(sessionId, dataset("walk", { datafiles: Array.from({ length: 20 }, (_, i) => ({ name: `f${i}` })), parameters: [{ type: { id: ids().parameterTypes.num_events }, numericValue: 1 }] }))).json as number[];
    expect(fake.updateLoad()).toBe(0);
    await icat.write(sessionId, { Dataset: { id, complete: true } });
    expect(fake.updateLoad()).toBe(21);
    const file = fake.entities("Datafile")[0]!;
    await icat.write(sessionId, { Datafile: { id: file.id, fileSize: 5 } });
    expect(fake.updateLoad()).toBe(21);
  });

  it("6. READ rules filter what a search returns and drop INCLUDEd objects silently; CREATE is checked after validation", async () => {
    await start({ mayRead: (_user, entity) => entity !== "Sample" });
    sessionId = await icat.session();
    const [sampleId] = fake.create({ Sample: { investigation: { id: ids().investigation }, name: "hidden" } });
    const id = await createDataset("with-sample");
    await icat.write(sessionId, { Dataset: { id, sample: { id: sampleId } } });
    expect((await icat.search(sessionId, "SELECT s FROM Sample s")).json).toEqual([]);
    const [row] = (await icat.search(sessionId, "SELECT ds FROM Dataset ds WHERE ds.name = 'with-sample' INCLUDE ds.sample")).json as { Dataset: Record<string, unknown> }[];
    expect(row?.Dataset.sample).toBeUndefined();
    // The WHERE clause may go through the hidden Sample: only the returned entity is filtered.
    expect((await icat.search(sessionId, `SELECT ds.id FROM Dataset ds WHERE ds.id = ${id} AND ds.sample.id = ${sampleId}`)).json).toEqual([id]);
    expect(fake.query("SELECT s FROM Sample s")).toHaveLength(1);

    const reader = ((await icat.login("reader", DEFAULT_PLUGINS.simple?.users.reader)).json as { sessionId: string }).sessionId;
    const invalid = await icat.write(reader, { Sample: { investigation: { id: ids().investigation } } });
    expect(invalid).toMatchObject({ status: 412, json: { code: "VALIDATION", message: "Sample: name cannot be null." } });
  });
});

describe("search", () => {
  let sessionId: string;
  beforeEach(async () => {
    await start();
    sessionId = await icat.session();
    const inv = fake.fixtures!.investigation;
    const raw = fake.fixtures!.datasetTypes.raw;
    fake.create({
      Dataset: {
        investigation: { id: inv },
        type: { id: raw },
        name: "scan_0001",
        parameters: [{ type: { id: fake.fixtures!.parameterTypes.num_events }, numericValue: 3 }],
        datafiles: Array.from({ length: 7 }, (_, i) => ({ name: `f${i}`, fileSize: i })),
      },
    });
    fake.create({ Dataset: { investigation: { id: inv }, type: { id: raw }, name: "scan_0002", description: "it's here" } });
  });

  const rows = async (query: string) => {
    const a = await icat.search(sessionId, query);
    expect(a.status, a.text).toBe(200);
    return a.json as unknown[];
  };

  it("returns wrapped entities with nulls omitted and includes nested without wrappers", async () => {
    const [one] = (await rows(`SELECT i FROM Investigation i WHERE i.facility.id = ${fake.fixtures!.facility} AND i.name = 'ab123' AND i.visitId = 'id00-1'`)) as Record<string, Record<string, unknown>>[];
    expect(Object.keys(one!)).toEqual(["Investigation"]);
    expect(one!.Investigation).toMatchObject({ id: fake.fixtures!.investigation, name: "ab123", title: FIXTURE.investigation.title });
    expect(one!.Investigation).not.toHaveProperty("summary");
    expect(one!.Investigation!.createTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/);

    const [ds] = (await rows("SELECT ds FROM Dataset ds WHERE ds.name = 'scan_0001' INCLUDE ds.parameters.type, ds.investigation")) as Record<string, Record<string, unknown>>[];
    const dataset = ds!.Dataset!;
    expect(dataset.investigation).toMatchObject({ id: fake.fixtures!.investigation, name: "ab123" });
    expect(dataset.parameters).toEqual([expect.objectContaining({ numericValue: 3, type: expect.objectContaining({ name: "num_events", units: "N/A" }) })]);
    expect(dataset).not.toHaveProperty("datafiles");
  });

  it("supports field projections, COUNT, IS NULL, IN and keyset paging", async () => {
    expect(await rows("SELECT ds.name FROM Dataset ds ORDER BY ds.id")).toEqual(["scan_0001", "scan_0002"]);
    expect(await rows("SELECT ds.name, ds.description FROM Dataset ds WHERE ds.description IS NULL")).toEqual([["scan_0001", null]]);
    expect(await rows("SELECT ds.name FROM Dataset ds WHERE ds.description = 'it''s here'")).toEqual(["scan_0002"]);
    expect(await rows("SELECT COUNT(df) FROM Datafile df WHERE df.dataset.name = 'scan_0001'")).toEqual([7]);
    expect(await rows("SELECT df.name FROM Datafile df WHERE df.name IN ('f1', 'f3', 'nope')")).toEqual(["f1", "f3"]);

    const seen: string[] = [];
    let last = 0;
    for (;;) {
      const page = (await rows(`SELECT df.id, df.name FROM Datafile df WHERE df.dataset.name = 'scan_0001' AND df.id > ${last} ORDER BY df.id LIMIT 0, 3`)) as [number, string][];
      if (page.length === 0) break;
      seen.push(...page.map(([, name]) => name));
      last = page.at(-1)![0];
    }
    expect(seen).toEqual(["f0", "f1", "f2", "f3", "f4", "f5", "f6"]);
  });

  it("gets one object by id, unwrapped from any array", async () => {
    const a = await icat.call("GET", "/entityManager", { query: { sessionId, query: "Investigation INCLUDE 1", id: String(fake.fixtures!.investigation) } });
    expect(a.json).toMatchObject({ Investigation: { name: "ab123", facility: { name: FIXTURE.facility }, type: { name: "experiment" } } });
    const missing = await icat.call("GET", "/entityManager", { query: { sessionId, query: "Dataset", id: "99999" } });
    expect(missing).toMatchObject({ status: 404, json: { code: "NO_SUCH_OBJECT_FOUND" } });
  });

  it("rejects queries outside the supported subset with 400 BAD_PARAMETER", async () => {
    for (const q of [
      "SELECT ds FROM Dataset ds WHERE ds.name = 'a' OR ds.name = 'b'",
      "SELECT DISTINCT ds.name FROM Dataset ds",
      "Dataset [name = 'scan_0001']",
      "SELECT ds FROM Dataset ds WHERE ds.colour = 'red'",
      "SELECT ds FROM Dataset ds WHERE ds.name = 3",
      "SELECT ds FROM Dataset ds LIMIT 5",
      "SELECT ds FROM Nothing ds",
    ]) {
      const a = await icat.search(sessionId, q);
      expect(a.status, q).toBe(400);
      expect(a.json, q).toMatchObject({ code: "BAD_PARAMETER" });
    }
  });

  it("refuses to return more than maxEntities with 412 VALIDATION", async () => {
    await fake.close();
    await start({ maxEntities: 5 });
    sessionId = await icat.session();
    const a = await icat.search(sessionId, "SELECT pt FROM ParameterType pt");
    expect(a).toMatchObject({ status: 412, json: { code: "VALIDATION", message: "attempt to process more than 5 entities" } });
    expect((await icat.search(sessionId, "SELECT pt FROM ParameterType pt ORDER BY pt.id LIMIT 0, 5")).status).toBe(200);
  });
});

describe("faults and recording", () => {
  let sessionId: string;
  beforeEach(async () => {
    await start();
    sessionId = await icat.session();
  });
  const sample = (name: string) => ({ Sample: { investigation: { id: fake.fixtures!.investigation }, name } });

  it("fails the next requests with an ICAT code (JSON, the code's status) without processing them", async () => {
    fake.failNext(2, "INTERNAL", { match: { route: "write" } });
    expect(await icat.write(sessionId, sample("a"))).toMatchObject({ status: 500, json: { code: "INTERNAL" } });
    // A search in between is not a write: it passes.
    expect((await icat.search(sessionId, "SELECT s FROM Sample s")).status).toBe(200);
    expect(await icat.write(sessionId, sample("a"))).toMatchObject({ status: 500, json: { code: "INTERNAL" } });
    fake.failNext(1, "VALIDATION", { message: "Sample: name is not acceptable here" });
    expect(await icat.write(sessionId, sample("a"))).toMatchObject({ status: 412, json: { code: "VALIDATION", message: "Sample: name is not acceptable here" } });
    expect(fake.entities("Sample")).toHaveLength(0);
    expect((await icat.write(sessionId, sample("a"))).status).toBe(200);
    // Every write request counts; only one committed.
    expect(fake.writeCount()).toBe(4);
    expect(fake.committedWrites()).toBe(1);
  });

  it("fails with a bare status as a proxy would: non-JSON", async () => {
    fake.failNext(1, 503, { match: { method: "POST" } });
    const proxy = await icat.write(sessionId, sample("a"));
    expect(proxy.status).toBe(503);
    expect(proxy.contentType).toContain("text/html");
    expect(proxy.json).toBeUndefined();
    fake.inject({ route: "write", kind: "badGateway" });
    expect((await icat.write(sessionId, sample("a"))).status).toBe(502);
    expect(fake.entities("Sample")).toHaveLength(0);
  });

  it("loses the response after committing, and resets connections before processing", async () => {
    fake.loseResponseNext(1, { route: "write" });
    await expect(icat.write(sessionId, sample("lost"))).rejects.toThrow();
    expect(fake.entities("Sample").map((s) => s.name)).toEqual(["lost"]);
    expect(fake.committedWrites()).toBe(1);
    fake.resetNext(1, { route: "write" });
    await expect(icat.write(sessionId, sample("never"))).rejects.toThrow();
    expect(fake.entities("Sample").map((s) => s.name)).toEqual(["lost"]);
    expect(fake.requests.filter((r) => r.fault).map((r) => r.fault)).toEqual(["dropAfterCommit", "reset"]);
  });

  it("hangs until the client gives up", async () => {
    fake.hangNext(1, { route: "search" });
    const pending = icat.search(sessionId, "SELECT f FROM Facility f");
    const outcome = pending.then(
      () => "answered",
      () => "failed",
    );
    while (!fake.requests.some((r) => r.fault === "hang")) await new Promise((r) => setTimeout(r, 5));
    expect(fake.requests.find((r) => r.fault === "hang")?.status).toBeUndefined();
    await fake.close();
    await expect(outcome).resolves.toBe("failed");
  });

  it("expires sessions mid-run and records every request", async () => {
    fake.inject({ route: "search", kind: "expireSessions" });
    expect((await icat.search(sessionId, "SELECT f FROM Facility f")).json).toMatchObject({ code: "SESSION" });
    const last = fake.requests.at(-1)!;
    expect(last).toMatchObject({ method: "GET", route: "search", status: 403, code: "SESSION", fault: "expireSessions" });
    expect(last.query.query).toBe("SELECT f FROM Facility f");
  });

  it("goes down and comes back on the same port with its data and sessions", async () => {
    const port = fake.port;
    await fake.goDown();
    await expect(icat.call("GET", "/version")).rejects.toThrow();
    await fake.comeBack();
    expect(fake.port).toBe(port);
    expect((await icat.call("GET", "/version")).status).toBe(200);
    expect(fake.entities("Facility")).toHaveLength(1);
    expect((await icat.search(sessionId, "SELECT f FROM Facility f")).status).toBe(200);
  });
});
