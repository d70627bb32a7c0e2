import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/loader.js";
import { REPO_ROOT } from "../support/cli.js";

/**
 * Issue 16.5: the Kubernetes manifests agree with the configuration schema, the image and each other, in both
 * variants: deploy/kubernetes (one replica, SQLite on a PVC) and deploy/kubernetes/shared-postgres (several
 * replicas sharing a PostgreSQL state). No kustomize here: the variants list files and directories only (no
 * patches), so reading what each kustomization lists is what kubectl renders (checked below when kubectl is
 * installed). Manifests are read as YAML 1.1, as Kubernetes does (`defaultMode: 0440` is octal).
 */

const DIR = path.join(REPO_ROOT, "deploy/kubernetes");
const SHARED_DIR = path.join(DIR, "shared-postgres");
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML
type Kustomization = { resources: string[] } & Doc;

const readKustomization = (dir: string): Kustomization => YAML.parse(fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8")) as Kustomization;

/** The objects a kustomization renders: its files, and those of the kustomizations (directories) it lists. */
function manifestsOf(dir: string): Doc[] {
  return readKustomization(dir).resources.flatMap((entry) => {
    const target = path.join(dir, entry);
    if (fs.statSync(target).isDirectory()) return manifestsOf(target);
    return parseManifests(fs.readFileSync(target, "utf8"));
  });
}

const parseManifests = (text: string): Doc[] => YAML.parseAllDocuments(text, { version: "1.1" }).map((d) => d.toJS() as Doc);
const hasKubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;

/** One variant's objects, with the Deployment's pod and container taken apart. */
function variant(dir: string) {
  const manifests = manifestsOf(dir);
  const ofKind = (kind: string): Doc[] => manifests.filter((m) => m.kind === kind);
  const byKind = (kind: string): Doc => {
    const found = ofKind(kind);
    expect(found, kind).toHaveLength(1);
    return found[0]!;
  };
  const deployment = byKind("Deployment");
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const volume = (name: string): Doc => pod.volumes.find((v: Doc) => v.name === name);
  const mountOf = (predicate: (v: Doc) => boolean): Doc => {
    const v = pod.volumes.find(predicate);
    return container.volumeMounts.find((m: Doc) => m.name === v?.name);
  };
  const mountAt = (mountPath: string): Doc => container.volumeMounts.find((m: Doc) => m.mountPath === mountPath);
  return { manifests, ofKind, byKind, deployment, pod, container, volume, mountOf, mountAt };
}
type Variant = ReturnType<typeof variant>;

const single = variant(DIR);
const shared = variant(SHARED_DIR);

/** BEAMSYNC_* variables the image sets (Dockerfile ENV), which the loader applies over the file. */
function imageEnvironment(): Record<string, string> {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "Dockerfile"), "utf8");
  return Object.fromEntries([...dockerfile.matchAll(/\b(BEAMSYNC_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

let temp: string | undefined;
afterEach(() => {
  if (temp) fs.rmSync(temp, { recursive: true, force: true });
  temp = undefined;
});

/**
 * The variant's ConfigMap loaded through beamsync's own loader and schema, with the image's and the pod's
 * environment (a secretKeyRef resolved to the value its Secret defines) and the mounted Secret's keys as files
 * where CREDENTIALS_DIRECTORY points: an unknown key, a bad value or a missing secret fails here as in the pod.
 */
function loadPodConfig(v: Variant) {
  const configMap = v.byKind("ConfigMap");
  const configFile = v.container.args[v.container.args.indexOf("--config") + 1];
  const configMount = v.mountOf((vol) => vol.configMap?.name === configMap.metadata.name);
  expect(path.posix.join(configMount.mountPath)).toBe(configFile);
  const document = YAML.parse(configMap.data[configMount.subPath]) as Record<string, unknown>;

  const secrets = new Map<string, Record<string, string>>(v.ofKind("Secret").map((s) => [s.metadata.name, s.stringData]));
  const podEnv: Record<string, string> = {};
  for (const e of v.container.env as Doc[]) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) expect(secrets.get(ref.name)?.[ref.key], `${e.name}: Secret ${ref.name} has no key ${ref.key}`).toBeDefined();
    podEnv[e.name] = ref ? secrets.get(ref.name)![ref.key]! : e.value;
  }

  // The catalog Secret's keys, as the mounted files, where CREDENTIALS_DIRECTORY points in the pod.
  const credentialsVolume = v.pod.volumes.find((vol: Doc) => vol.secret);
  const catalogSecret = secrets.get(credentialsVolume.secret.secretName);
  expect(catalogSecret, `Secret ${credentialsVolume.secret.secretName}`).toBeDefined();
  const credentialsMount = v.mountOf((vol) => vol === credentialsVolume);
  expect(podEnv.CREDENTIALS_DIRECTORY).toBe(credentialsMount.mountPath);
  expect(credentialsMount.readOnly).toBe(true);
  temp = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-k8s-"));
  for (const [key, value] of Object.entries(catalogSecret!)) fs.writeFileSync(path.join(temp, key), value);

  const { config } = loadConfig({ document, env: { ...imageEnvironment(), ...podEnv, CREDENTIALS_DIRECTORY: temp } });
  expect(config.destinations.scicat.password).toBe(catalogSecret!["scicat-password"]);
  return { config, secrets };
}

/** What both variants' pods share: the port, the probes, the DATA root read-only, the state directory writable. */
function expectPodServes(v: Variant, config: ReturnType<typeof loadPodConfig>["config"]): void {
  expect(config.http.enabled).toBe(true);
  expect(config.http.host).toBe("0.0.0.0");
  expect(v.container.ports).toEqual([{ name: "http", containerPort: config.http.port }]);
  expect(v.container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
  expect(v.container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
  expect(v.mountAt(config.stateDir).readOnly).toBeFalsy();
  expect(v.mountAt(config.dataRoot).readOnly).toBe(true);
  // The root filesystem is read-only: anything else written goes to /tmp.
  expect(v.volume(v.mountAt("/tmp").name).emptyDir).toBeDefined();
}

function expectServiceReachesPod(v: Variant): void {
  const service = v.byKind("Service");
  expect(service.spec.selector).toEqual(v.deployment.spec.template.metadata.labels);
  expect(service.spec.ports).toEqual([{ name: "http", port: v.container.ports[0].containerPort, targetPort: "http" }]);
  expect(service.metadata.annotations).toMatchObject({ "prometheus.io/port": String(v.container.ports[0].containerPort), "prometheus.io/path": "/metrics" });
}

describe("Kubernetes manifests", () => {
  it.each([
    ["deploy/kubernetes", DIR],
    ["deploy/kubernetes/common", path.join(DIR, "common")],
    ["deploy/kubernetes/shared-postgres", SHARED_DIR],
  ])("%s: every file the kustomization lists exists, and nothing in the directory is left out", (_name, dir) => {
    const kustomization = readKustomization(dir);
    // Plain resources only: the test reads them as kubectl renders them (a patch or generator would escape it).
    expect(Object.keys(kustomization).sort()).toEqual(["apiVersion", "kind", "resources"]);
    const files = kustomization.resources.filter((r) => !fs.statSync(path.join(dir, r)).isDirectory());
    const yamlFiles = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...files].sort()).toEqual(yamlFiles.sort());
    for (const r of kustomization.resources.filter((r) => !files.includes(r))) expect(fs.existsSync(path.join(dir, r, "kustomization.yaml")), r).toBe(true);
  });

  it.skipIf(!hasKubectl).each([DIR, SHARED_DIR])("kubectl kustomize %s renders exactly the objects read here", (dir) => {
    const rendered = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
    expect(rendered.status, rendered.stderr).toBe(0);
    const key = (m: Doc) => `${m.kind}/${m.metadata.name}`;
    const sorted = (docs: Doc[]) => [...docs].sort((a, b) => key(a).localeCompare(key(b)));
    expect(sorted(parseManifests(rendered.stdout))).toEqual(sorted(manifestsOf(dir)));
  });
});

describe("Kubernetes: one replica on SQLite (deploy/kubernetes)", () => {
  const { deployment, pod, container } = single;

  it("one replica, replaced with Recreate, non-root, read-only root, with requests", () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe("Recreate");
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    // The image's user is the one the pod runs as, so the secret and state files are its own.
    expect(fs.readFileSync(path.join(REPO_ROOT, "Dockerfile"), "utf8")).toMatch(new RegExp(`^USER ${pod.securityContext.runAsUser}:`, "m"));
  });

  it("the ConfigMap is a valid configuration whose paths, port and secrets the pod provides; the state is on the PVC", () => {
    const { config } = loadPodConfig(single);
    expect(config.state.backend).toBe("sqlite");
    expectPodServes(single, config);
    const stateMount = single.mountAt(config.stateDir);
    expect(single.volume(stateMount.name).persistentVolumeClaim.claimName).toBe(single.byKind("PersistentVolumeClaim").metadata.name);
  });

  it("the Service reaches the container's port and tells Prometheus where /metrics is", () => {
    expectServiceReachesPod(single);
  });
});

describe("Kubernetes: several replicas on a shared PostgreSQL (deploy/kubernetes/shared-postgres)", () => {
  const { deployment, pod, container } = shared;

  it("several replicas, rolled without dropping below the desired count, spread over nodes, at least one kept through a drain", () => {
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    expect(deployment.spec.strategy).toMatchObject({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } });
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    const spread = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(spread).toHaveLength(1);
    expect(spread[0].podAffinityTerm).toEqual({ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: labels } });
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    const pdb = shared.byKind("PodDisruptionBudget");
    expect(pdb.apiVersion).toBe("policy/v1");
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: labels } });
  });

  it("the same image, arguments, hardening, resources and probes as the single replica", () => {
    for (const key of ["image", "args", "ports", "securityContext", "resources", "livenessProbe", "readinessProbe"]) {
      expect(container[key], key).toEqual(single.container[key]);
    }
    expect(pod.securityContext).toEqual(single.pod.securityContext);
    expect(pod.terminationGracePeriodSeconds).toBe(single.pod.terminationGracePeriodSeconds);
    expect(shared.mountAt("/etc/beamsync/credentials")).toEqual(single.mountAt("/etc/beamsync/credentials"));
  });

  it("the ConfigMap is a valid postgres configuration; the password comes from the Secret key the env var names", () => {
    const { config, secrets } = loadPodConfig(shared);
    expect(config.state.backend).toBe("postgres");
    expect(config.state.url).toMatch(/^postgres(ql)?:\/\//);
    expect(config.state.password, "no password in the ConfigMap itself").toBeDefined();
    const passwordEnv = (container.env as Doc[]).find((e) => e.name === "BEAMSYNC_STATE__PASSWORD");
    const ref = passwordEnv?.valueFrom.secretKeyRef;
    expect(config.state.password).toBe(secrets.get(ref.name)![ref.key]);
    expect(shared.byKind("ConfigMap").data["beamsync.yaml"]).not.toMatch(/password:/);
    expectPodServes(shared, config);
  });

  it("no volume for the state: stateDir (the checksum cache) on an emptyDir; the only claim is the DATA root, ReadOnlyMany", () => {
    const { config } = loadPodConfig(shared);
    expect(shared.volume(shared.mountAt(config.stateDir).name).emptyDir).toBeDefined();
    const claims = (pod.volumes as Doc[]).filter((v) => v.persistentVolumeClaim);
    const dataVolume = shared.volume(shared.mountAt(config.dataRoot).name);
    expect(claims).toEqual([dataVolume]);
    expect(dataVolume.persistentVolumeClaim.readOnly).toBe(true);
    const pvc = shared.byKind("PersistentVolumeClaim");
    expect(pvc.metadata.name).toBe(dataVolume.persistentVolumeClaim.claimName);
    expect(pvc.spec.accessModes).toEqual(["ReadOnlyMany"]);
  });

  it("the Service reaches the container's port and tells Prometheus where /metrics is", () => {
    expectServiceReachesPod(shared);
  });
});
