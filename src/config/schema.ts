import cron from "node-cron";
import { z } from "zod";
import { rulesSchema } from "./mapping-rules.js";

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
    /**
     * How beamsync logs in: `local` (a functional account, POST /auth/login), `ldap` (the backend's LDAP login,
     * POST /auth/ldap) or `token` (a JWT minted by an admin, from token / tokenFile, never renewed by a login).
     * Unset: `token` when only a token is given, else `local`.
     */
    auth: z.enum(["local", "ldap", "token"]).optional(),
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
    /**
     * Also send the run's quantities (the scientificMetadata `{value, unit}` entries and ranges) as DatasetParameters,
     * each where ICAT has a ParameterType of that name and units (`N/A` for none) applicable to datasets.
     */
    quantities: z.boolean().default(true),
    /**
     * Fields of a registered specimen sent as SampleParameters: field → ParameterType name and units, the type
     * applicable to samples. Fields: specimenId, tray, trayLabel, slot, qrLabel, metadata.<key>.
     */
    sampleParameters: z
      .record(z.string(), z.object({ type: z.string(), units: z.string() }).strict())
      .default({
        tray: { type: "tray", units: "N/A" },
        slot: { type: "slot", units: "N/A" },
        qrLabel: { type: "qr_label", units: "N/A" },
      }),
    /**
     * Also send each scalar of a registered specimen's metadata (string, number, boolean) as a SampleParameter,
     * where ICAT has a ParameterType of the key's name with units `N/A` applicable to samples.
     */
    sampleMetadata: z.boolean().default(true),
    timeoutMs: z.number().int().positive().default(30_000),
    /** What carries the HTTP exchanges under axios (README Benchmarks): "undici" (default) or "node-http". */
    transport: z.enum(["undici", "node-http"]).default("undici"),
  })
  .strict();

/** One proposal of the group map: who owns and reads its records, and its principal investigator. */
export const groupMapEntrySchema = z
  .object({
    ownerGroup: z.string().min(1).optional(),
    accessGroups: z.array(z.string().min(1)).optional(),
    piName: z.string().min(1).optional(),
    piEmail: z.string().email().optional(),
  })
  .strict();

export type GroupMapEntry = z.infer<typeof groupMapEntrySchema>;

export const configSchema = z
  .object({
    dataRoot: z.string().min(1, { message: "must name the beamline DATA directory" }),
    stateDir: z.string().min(1).default("/var/lib/beamsync"),
    /**
     * Where the state lives: `sqlite` (default: stateDir/beamsync.sqlite, one daemon per stateDir) or `postgres`
     * (several workers on any hosts share one state; `url` names the database, the password comes from
     * password, passwordFile or BEAMSYNC_STATE__PASSWORD, never from the logs).
     */
    state: z
      .object({
        backend: z.enum(["sqlite", "postgres"]).default("sqlite"),
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, { message: "must be a postgres:// URL such as postgres://beamsync@db.example.org:5432/beamsync" })
          .optional(),
        password: z.string().optional(),
        passwordFile: z.string().optional(),
        /** Connections each worker keeps open (pushes, scans and the CLI share them). */
        poolSize: z.number().int().min(2).max(100).default(8),
      })
      .strict()
      .prefault({})
      .refine((s) => s.backend !== "postgres" || s.url !== undefined, { message: "state.backend is postgres but state.url is not set; give the database as postgres://USER@HOST:PORT/DATABASE", path: ["url"] }),
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
                /** A person's name for the dataset owner, first match wins. */
                owner: z.array(z.string()).default(["proposal.pi_name", "pi_name", "principal_investigator", "owner", "user_name"]),
                /** Login ids, used for the owner only when no owner key matches (shown whole, never split). */
                login: z.array(z.string()).default(["login_id", "operator"]),
                /** The proposal's principal investigator: proposal-level fields every run of the proposal states alike. */
                pi: z.array(z.string()).default(["proposal.pi_name", "pi_name", "principal_investigator"]),
              })
              .strict()
              .prefault({}),
          })
          .strict()
          .prefault({}),
        /** Registration files (proposal, trays, samples) written before the beamtime (README "Registering proposals and samples"). */
        registrations: z
          .object({
            enabled: z.boolean().default(false),
            /** The folder the registration files are dropped into; a relative path is taken from the DATA root. */
            folder: z.string().min(1, { message: "must name the folder registration files are dropped into, e.g. registrations" }).default("registrations"),
            /** Named in every label's QR payload (bsr:<facility>/<proposal>/s/<specimen>). */
            facility: z
              .string()
              .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, { message: "must be 1 to 64 letters, digits, '.', '_', ':' or '-' (it goes into QR payloads), e.g. ALS" })
              .default("MyFacility"),
            /** Where a run names its registered specimen (an id or a scanned QR payload); first match wins. */
            keys: z
              .object({
                /** Start-document keys (dotted paths allowed). */
                bluesky: z.array(z.string().min(1)).default(["specimen_id", "qr_code", "sample.specimen_id"]),
                /** Fields of the resonance sample a run measured. */
                resonance: z.array(z.enum(["serial", "name"], { message: "must be serial or name" })).default(["serial"]),
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
        /** Owner group of a proposal's records; a template over {proposalId}, {proposalSlug}, {beamline} (mapping/access.ts). */
        ownerGroup: z.string().min(1, { message: "must name a group, e.g. \"p{proposalId}\" or \"beamline-staff\"" }).default("beamline-staff"),
        /** Reader groups of a proposal's records; each entry a template like ownerGroup. */
        accessGroups: z.array(z.string()).default([]),
        /** Per-proposal overrides (proposal id → groups, PI); entries of groupMapFile are added here by the loader. */
        groupMap: z.record(z.string(), groupMapEntrySchema).default({}),
        /** A YAML or CSV file exported from the user office with the same entries as groupMap. */
        groupMapFile: z.string().optional(),
        /** Owner group of what belongs to no proposal: declared reference samples, runs that name no proposal. */
        facilityGroup: z.string().min(1).default("beamline-staff"),
        /** Sample names shared on purpose by every proposal (calibrants): one facility-owned, published Sample each. */
        referenceSamples: z.array(z.string().min(1)).default([]),
        instrument: z.string().default("11.0.1.2"),
        instrumentName: z.string().optional(),
        /** Where the dataset says it was made, e.g. "/ALS/11.0.1.2". */
        creationLocation: z.string().optional(),
        /**
         * Proposal id for a beamtime: a template over {label}, {researcher}, {researcherSlug}, {beamtimeId}
         * (none of them from a path), used when the beamtime does not state one (`beamtimes.extra.proposal_id`).
         */
        proposalIdTemplate: z.string().default("{researcherSlug}-{label}"),
        /** Contact email used when the source has none (SciCat requires one). */
        defaultEmail: z.string().email().default("beamline@example.org"),
        /** Key for samples within their beamtime: the row id, or `serial` when set. */
        sampleKey: z.enum(["id", "serial"]).default("id"),
        keywords: z.array(z.string()).default([]),
        /** Push runs that never closed (stale) as incomplete datasets. */
        pushStaleRuns: z.boolean().default(true),
        /**
         * Prefix rewrites from the beamline's paths to the paths users see, applied to a dataset's `sourceFolder`
         * (e.g. `/data/beamline: /global/cfs/als/11012`); the longest matching prefix wins.
         */
        sourceFolderRewrite: z.record(z.string().min(1), z.string().min(1)).default({}),
        /** Host users reach the files on, sent as the dataset's `sourceFolderHost`. */
        sourceFolderHost: z.string().min(1).optional(),
        /** Per-instrument rules: field templates and PaNET techniques by source, plan and beamline (config/mapping-rules.ts). */
        rules: rulesSchema.optional(),
        /** A YAML file with the same rules (read at start-up; replaces `rules`). */
        rulesFile: z.string().optional(),
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
    previews: z
      .object({
        /** A small PNG plot of each run's main signal, attached to its SciCat dataset (an Attachment with a thumbnail). */
        enabled: z.boolean().default(false),
        /** Size of the plot, pixels. */
        width: z.number().int().min(64).max(2000).default(320),
        height: z.number().int().min(48).max(2000).default(200),
      })
      .strict()
      .prefault({}),
    files: z
      .object({
        /**
         * A checksum of each file a run owns, as `chk` in SciCat file entries and the ICAT Datafile `checksum`;
         * computed once per (path, size, mtime) and remembered in stateDir/checksums.sqlite.
         */
        checksum: z.enum(["none", "sha256", "blake2b"]).default("none"),
        /** Files read for checksums at once. */
        checksumConcurrency: z.number().int().min(1).max(64).default(4),
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
