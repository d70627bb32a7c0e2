import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readGroupMapFile } from "../../src/config/group-map.js";
import { loadConfig } from "../../src/config/loader.js";
import { configSchema } from "../../src/config/schema.js";
import { accessFor, groupTemplateProblems, proposalAccess, registeredAccess, registeredMemberEmails } from "../../src/mapping/access.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { urlSafeId } from "../../src/model/keys.js";
import type { Beamtime, Snapshot } from "../../src/model/types.js";
import { tempDir } from "../support/cli.js";

/** Group templates, the group map file, and who a proposal's PI is (issue 13, item 1 and 2). */

function mapping(extra: Record<string, unknown>) {
  return configSchema.parse({ dataRoot: "/data", mapping: { instrument: "11.0.1.2", ...extra } }).mapping;
}

let dir: string | undefined;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function file(name: string, text: string): string {
  dir ??= tempDir("groups");
  const full = path.join(dir, name);
  fs.writeFileSync(full, text);
  return full;
}

describe("group templates", () => {
  it("fill every placeholder from the proposal and the configuration", () => {
    const m = mapping({ ownerGroup: "p{proposalId}", accessGroups: ["{proposalSlug}-readers", "{beamline}-staff", "{beamline}-staff"] });
    expect(accessFor("ALS 12345", m)).toEqual({ ownerGroup: "pALS 12345", accessGroups: ["als-12345-readers", "11.0.1.2-staff"] });
  });

  it("let the group map override a proposal, entry by entry", () => {
    const m = mapping({ ownerGroup: "p{proposalId}", accessGroups: ["{beamline}-staff"], groupMap: { "P-1": { ownerGroup: "uo-4711" }, "P-2": { accessGroups: [] } } });
    expect(accessFor("P-1", m)).toEqual({ ownerGroup: "uo-4711", accessGroups: ["11.0.1.2-staff"] });
    expect(accessFor("P-2", m)).toEqual({ ownerGroup: "pP-2", accessGroups: [] });
    // "toString" is no proposal of the map, whatever objects inherit.
    expect(accessFor("toString", m).ownerGroup).toBe("ptoString");
  });

  it("give what belongs to no proposal to the facility, readable by no proposal's group", () => {
    const m = mapping({ ownerGroup: "p{proposalId}", accessGroups: ["{proposalSlug}-readers", "{beamline}-staff"], facilityGroup: "als-staff" });
    expect(accessFor(undefined, m)).toEqual({ ownerGroup: "als-staff", accessGroups: ["11.0.1.2-staff"] });
  });

  it("name the entry of an unknown placeholder or an always-empty template, and of a group empty for one proposal", () => {
    expect(groupTemplateProblems(mapping({ ownerGroup: "{owner}", accessGroups: ["ok", " "] }))).toEqual([
      expect.stringMatching(/^mapping\.ownerGroup: unknown placeholder\(s\) \{owner\}/),
      expect.stringMatching(/^mapping\.accessGroups\[1\]: the template " " gives an empty group/),
    ]);
    expect(() => accessFor("+++", mapping({ ownerGroup: "{proposalSlug}" }))).toThrow(/mapping\.ownerGroup: the template "\{proposalSlug\}" gives an empty group for proposal "\+\+\+"/);
  });
});

describe("the group map file", () => {
  it("reads YAML keyed by proposal, YAML lists and CSV with quoted cells", () => {
    expect(readGroupMapFile(file("a.yaml", "P-1:\n  ownerGroup: g1\n  piName: Jane Doe\nP-2: { accessGroups: [r1, r2] }\n"))).toEqual({
      "P-1": { ownerGroup: "g1", piName: "Jane Doe" },
      "P-2": { accessGroups: ["r1", "r2"] },
    });
    expect(readGroupMapFile(file("b.yml", "- proposal: 4711\n  ownerGroup: g\n"))).toEqual({ "4711": { ownerGroup: "g" } });
    const csv = 'proposal,ownerGroup,accessGroups,piName,piEmail\r\nP-1,g1,r1;r2,"Doe, Jane",jane@example.org\r\n\r\nP-2,,,,\r\n';
    expect(readGroupMapFile(file("c.csv", csv))).toEqual({
      "P-1": { ownerGroup: "g1", accessGroups: ["r1", "r2"], piName: "Doe, Jane", piEmail: "jane@example.org" },
      "P-2": {},
    });
  });

  it("refuses a proposal named twice, naming it and both places, and a bad field, naming it", () => {
    expect(() => readGroupMapFile(file("d.yaml", "P-1: { ownerGroup: a }\nP-2: {}\nP-1: { ownerGroup: b }\n"))).toThrow(/names proposal "P-1" twice \(line 1 and line 3\)/);
    expect(() => readGroupMapFile(file("e.yaml", "- { proposal: P-1 }\n- { proposal: P-1 }\n"))).toThrow(/names proposal "P-1" twice/);
    expect(() => readGroupMapFile(file("f.csv", "proposal,ownerGroup\nP-1,a\nP-1,b\n"))).toThrow(/names proposal "P-1" twice \(line 2 and line 3\)/);
    expect(() => readGroupMapFile(file("g.csv", "proposal,piEmail\nP-1,not-an-email\n"))).toThrow(/line 2 \(proposal "P-1"\), piEmail/);
    expect(() => readGroupMapFile(file("h.csv", "proposal,owner\nP-1,a\n"))).toThrow(/unknown: owner/);
  });

  it("is read by the loader relative to the configuration file, and may not repeat an inline proposal", () => {
    file("groups.csv", "proposal,ownerGroup\nP-1,from-file\n");
    const config = file("beamsync.yaml", "dataRoot: /data\nmapping:\n  groupMapFile: groups.csv\n  groupMap: { P-2: { ownerGroup: inline } }\n");
    const loaded = loadConfig({ configPath: config, env: {} }).config.mapping;
    expect(loaded.groupMap).toEqual({ "P-1": { ownerGroup: "from-file" }, "P-2": { ownerGroup: "inline" } });
    fs.writeFileSync(config, "dataRoot: /data\nmapping:\n  groupMapFile: groups.csv\n  groupMap: { P-1: { ownerGroup: inline } }\n");
    expect(() => loadConfig({ configPath: config, env: {} })).toThrow(/both name proposal "P-1"/);
    fs.writeFileSync(config, "dataRoot: /data\nmapping:\n  groupMapFile: nowhere.csv\n");
    expect(() => loadConfig({ configPath: config, env: {} })).toThrow(/mapping\.groupMapFile: cannot read .*nowhere\.csv \(ENOENT\)/);
  });
});

describe("who a proposal belongs to", () => {
  const config = configSchema.parse({ dataRoot: "/data", mapping: { instrument: "bl-1" } });
  const snapshot = (name: string, login: boolean): Snapshot => ({
    beamtimes: [{ key: "bluesky:P-1", source: "bluesky", label: "P-1", proposalId: "P-1", researcher: { name, ...(login ? { login } : {}) }, extra: {} }],
    samples: [],
    runs: [],
    problems: [],
  });

  it("never splits a login id into first and last names", () => {
    const [proposal] = mapToScicat(snapshot("prjemian@zap", true), config);
    expect(proposal!.payload.pi_lastname).toBeUndefined();
    expect(proposal!.payload.pi_firstname).toBeUndefined();
    expect(proposal!.payload.metadata).toMatchObject({ beamsync: { piLogin: "prjemian@zap" } });
  });

  it("splits a person's name", () => {
    const [proposal] = mapToScicat(snapshot("Pete R. Jemian", false), config);
    expect(proposal!.payload).toMatchObject({ pi_firstname: "Pete R.", pi_lastname: "Jemian" });
  });
});

describe("sample ids in the catalog", () => {
  it("are readable for plain keys and never the same for two keys", () => {
    expect(urlSafeId("resonance:0123456789abcdef0123456789abcdef#3")).toBe("resonance_0123456789abcdef0123456789abcdef_3");
    expect(urlSafeId("bluesky:P-1/LaB6")).toBe("bluesky_P-1_LaB6");
    const keys = ["bluesky:a/b_c", "bluesky:a_b/c", "bluesky:a/b c", "bluesky:a/b-c", "bluesky:/x", "bluesky:x/", "bluesky_a_b", "reference:LaB6", "resonance:ab#serial:S-1"];
    const ids = keys.map(urlSafeId);
    expect(new Set(ids).size).toBe(keys.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._~-]+$/);
  });
});

describe("a registration's groups and members (issue 14)", () => {
  const registered = (proposalId: string, registration: Record<string, unknown>): Beamtime => ({
    key: `registration:${proposalId}`,
    source: "registration",
    label: proposalId,
    proposalId,
    researcher: { name: "Ada Lovelace" },
    extra: { registration },
  });
  const m = mapping({ ownerGroup: "p{proposalId}", accessGroups: ["{beamline}-staff"] });

  it("adds the registered groups as readers of the proposal's own records, after the configured ones, without the owner", () => {
    const beamtime = registered("P-1", { groups: ["lab", " lab ", "", "pP-1", "11.0.1.2-staff"], members: ["ada@example.org", "jdoe", 7] });
    expect(proposalAccess("P-1", m, beamtime)).toEqual({ ownerGroup: "pP-1", accessGroups: ["11.0.1.2-staff", "lab"] });
    expect(registeredAccess(beamtime, "P-1")).toEqual({ groups: ["lab", "pP-1", "11.0.1.2-staff"], members: ["ada@example.org", "jdoe"] });
    expect(registeredMemberEmails(beamtime, "P-1")).toEqual(["ada@example.org"]);
  });

  it("never gives them to another proposal's records, nor to records of no proposal, nor from a beamtime that is not registered", () => {
    const beamtime = registered("P-1", { groups: ["lab"], members: ["ada@example.org"] });
    expect(proposalAccess("P-2", m, beamtime)).toEqual(accessFor("P-2", m));
    expect(proposalAccess(undefined, m, beamtime)).toEqual(accessFor(undefined, m));
    expect(registeredMemberEmails(beamtime, "P-2")).toEqual([]);
    const bluesky: Beamtime = { ...beamtime, source: "bluesky" };
    expect(proposalAccess("P-1", m, bluesky)).toEqual(accessFor("P-1", m));
  });
});
