import cron from "node-cron";
import { z } from "zod";

/**
 * The configuration contract (DESIGN.md §5). Keys listed there keep their meaning; the rest are ours.
 * Every key has a default where a safe one exists, so a small file is enough.
 */

const secretFields = {
  password: z.string().optional(),
  passwordFile: z.string().optional(),
  token: z.string().optional(),
  tokenFile: z.string().optional(),
};

const httpUrl = z
  .string()
  .url({ message: "must be an absolute URL such as https://catalog.example.org" })
  .refine((u) => /^https?:\/\//.test(u), { message: "must start with http:// or https://" });

export const scicatSchema = z
  .object({
    enabled: z.boolean().default(true),
    url: httpUrl.default("http://127.0.0.1:3000/api"),
    username: z.string().default("ingestor"),
    ...secretFields,
    pidPrefix: z.string().default(""),
    /** "auto" reads /explorer-json once to decide; "v4" or "v3" force the dataset routes. */
    datasetApi: z.enum(["auto", "v4", "v3"]).default("auto"),
    /** Log in again when this fraction of the token lifetime has passed. */
    reloginAt: z.number().gt(0).lt(1).default(0.8),
    timeoutMs: z.number().int().positive().default(30_000),
    /** What carries the HTTP exchanges under axios (README Benchmarks): "undici" (default) or "node-http". */
    transport: z.enum(["undici", "node-http"]).default("undici"),
    /** OrigDatablock split: most files and bytes of file listing per block. */
    maxFilesPerBlock: z.number().int().positive().default(1000),
    maxBytesPerBlock: z.number().int().positive().default(4 * 1024 * 1024),
    /**
     * Fields where the source's value replaces a curator's edit made in the catalog (`datasetName`, or
     * `scientificMetadata.run` for one key of a merged object). Elsewhere the catalog's edit is kept and reported.
     */
    sourceWins: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const icatSchema = z
  .object({
    enabled: z.boolean().default(false),
    url: httpUrl.default("http://127.0.0.1:8181"),
    plugin: z.string().default("simple"),
    username: z.string().default("ingestor"),
    ...secretFields,
    facility: z.string().default("MyFacility"),
    investigationType: z.string().default("experiment"),
    datasetType: z.string().default("raw"),
    instrument: z.string().optional(),
    /** Facilities usually create investigations from their user office; allow it only when asked. */
    createInvestigations: z.boolean().default(false),
    /** Refresh the session when fewer than this many minutes remain. */
    refreshRemainingMinutes: z.number().positive().default(30),
    /** Datafiles per write request. */
    datafileChunk: z.number().int().positive().default(500),
    /**
     * Longest `location` the server stores: 255 before ICAT 6.2, 511 from 6.2. A longer dataset or datafile
     * location is left out rather than cut (the datafile keeps its name, the path below the dataset).
     */
    locationLength: z.union([z.literal(255), z.literal(511)], { message: "must be 255 (ICAT before 6.2) or 511 (ICAT 6.2 and later)" }).default(255),
    /** Run fields sent as DatasetParameters: field → ParameterType name and units. */
    parameters: z
      .record(z.string(), z.object({ type: z.string(), units: z.string() }).strict())
      .default({
        plan_name: { type: "plan_name", units: "N/A" },
        exit_status: { type: "exit_status", units: "N/A" },
        num_events: { type: "num_events", units: "N/A" },
      }),
    timeoutMs: z.number().int().positive().default(30_000),
    /** What carries the HTTP exchanges under axios (README Benchmarks): "undici" (default) or "node-http". */
    transport: z.enum(["undici", "node-http"]).default("undici"),
  })
  .strict();

export const configSchema = z
  .object({
    dataRoot: z.string().min(1, { message: "must name the beamline DATA directory" }),
    stateDir: z.string().min(1).default("/var/lib/beamsync"),
    sources: z
      .object({
        resonance: z
          .object({
            enabled: z.boolean().default(true),
            indexFile: z.string().default("index.db"),
            /** Also look for beamtime DBs that the index does not list. */
            discover: z.boolean().default(true),
            /** Push runs never closed after this many seconds without change as incomplete; 0 = never. */
            staleAfterSeconds: z.number().nonnegative().default(0),
            busyTimeoutMs: z.number().int().nonnegative().default(500),
          })
          .strict()
          .prefault({}),
        bluesky: z
          .object({
            enabled: z.boolean().default(true),
            include: z.array(z.string()).default(["**/*.jsonl", "**/*.json", "**/*.msgpack", "**/*.jsonl.gz", "**/*.json.gz", "**/*.msgpack.gz"]),
            exclude: z.array(z.string()).default([]),
            /** Prefix rewrites for resource roots: beamline path → path on this machine. */
            rootMap: z.record(z.string(), z.string()).default({}),
            /** A run with no stop and no growth for this long is pushed as never closed. */
            staleAfterSeconds: z.number().positive().default(3600),
            /** Start-document keys read for the catalog fields. */
            keys: z
              .object({
                proposal: z.array(z.string()).default(["proposal_id", "proposal.proposal_id", "data_session"]),
                sample: z.array(z.string()).default(["sample_id", "sample", "sample.uid", "sample_name"]),
                sampleName: z.array(z.string()).default(["sample_name", "sample.name", "sample"]),
                beamline: z.array(z.string()).default(["beamline_id", "instrument_name"]),
                owner: z.array(z.string()).default(["proposal.pi_name", "owner", "user_name", "operator", "login_id"]),
              })
              .strict()
              .prefault({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    destinations: z
      .object({
        scicat: scicatSchema.prefault({ enabled: false }),
        icat: icatSchema.prefault({ enabled: false }),
      })
      .strict()
      .prefault({}),
    mapping: z
      .object({
        ownerGroup: z.string().default("beamline-staff"),
        accessGroups: z.array(z.string()).default([]),
        instrument: z.string().default("11.0.1.2"),
        instrumentName: z.string().optional(),
        /** Where the dataset says it was made, e.g. "/ALS/11.0.1.2". */
        creationLocation: z.string().optional(),
        /**
         * Proposal id for a beamtime: a template over {label}, {researcher}, {researcherSlug}, {dbStem},
         * used when the beamtime does not state one (`beamtimes.extra.proposal_id`).
         */
        proposalIdTemplate: z.string().default("{researcherSlug}-{label}"),
        /** Contact email used when the source has none (SciCat requires one). */
        defaultEmail: z.string().email().default("beamline@example.org"),
        /** Key for samples: the row id in its beamtime, or `serial` when set. */
        sampleKey: z.enum(["id", "serial"]).default("id"),
        keywords: z.array(z.string()).default([]),
        /** Push runs that never closed (stale) as incomplete datasets. */
        pushStaleRuns: z.boolean().default(true),
        /** Add per-field {min,max,count} summaries of events to scientificMetadata. */
        eventSummaries: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    sync: z
      .object({
        concurrency: z.number().int().min(1).max(64).default(8),
        maxAttempts: z.number().int().min(1).default(10),
        reconcileCron: z
          .string()
          .refine((v) => cron.validate(v), { message: "is not a valid cron expression (e.g. \"*/5 * * * *\" = every 5 minutes)" })
          .default("*/5 * * * *"),
        settleMs: z.number().int().nonnegative().default(250),
        /** Backoff: first delay and cap, milliseconds; jitter is full. */
        backoffBaseMs: z.number().int().positive().default(1000),
        backoffMaxMs: z.number().int().positive().default(300_000),
        /** How often a running daemon checks for CLI resync requests. */
        requestPollMs: z.number().int().positive().default(1000),
        /** Use polling instead of native events (network filesystems). */
        watchPolling: z.boolean().default(false),
        watchIntervalMs: z.number().int().positive().default(1000),
        /** Graceful shutdown deadline for in-flight pushes. */
        shutdownTimeoutMs: z.number().int().positive().default(30_000),
        /** A lease protects a record from a second pusher (CLI vs daemon). */
        leaseMs: z.number().int().positive().default(120_000),
        /** upload_log rows older than this many days are removed at each full scan; 0 keeps every row. */
        uploadLogRetentionDays: z.number().int().nonnegative().default(0),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(["error", "warn", "info", "debug"]).default("info"),
        format: z.enum(["json", "pretty"]).default("json"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ScicatConfig = z.infer<typeof scicatSchema>;
export type IcatConfig = z.infer<typeof icatSchema>;
