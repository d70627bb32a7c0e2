import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/loader.js";
import { REPO_ROOT } from "../support/cli.js";

/** Issue 16.5: the Kubernetes manifests agree with the configuration schema, the image and each other. */

const DIR = path.join(REPO_ROOT, "deploy/kubernetes");
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are free-form YAML

const kustomization = YAML.parse(fs.readFileSync(path.join(DIR, "kustomization.yaml"), "utf8")) as { resources: string[] };
const manifests: Doc[] = kustomization.resources.flatMap((file) =>
  YAML.parseAllDocuments(fs.readFileSync(path.join(DIR, file), "utf8")).map((d) => d.toJS() as Doc),
);
const byKind = (kind: string): Doc => {
  const found = manifests.filter((m) => m.kind === kind);
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

describe("Kubernetes manifests", () => {
  it("every file the kustomization lists exists, and nothing in the directory is left out", () => {
    const yamlFiles = fs.readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(yamlFiles.sort());
  });

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

  it("the ConfigMap is a valid configuration whose paths, port and secrets the pod provides", () => {
    const configMap = byKind("ConfigMap");
    const secret = byKind("Secret");
    const configFile = container.args[container.args.indexOf("--config") + 1];
    const configMount = mountOf((v) => v.configMap?.name === configMap.metadata.name);
    expect(path.posix.join(configMount.mountPath)).toBe(configFile);
    const document = YAML.parse(configMap.data[configMount.subPath]) as Record<string, unknown>;

    // The Secret's keys, as the mounted files, where CREDENTIALS_DIRECTORY points in the pod.
    const credentialsMount = mountOf((v) => v.secret?.secretName === secret.metadata.name);
    const podEnv = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value]));
    expect(podEnv.CREDENTIALS_DIRECTORY).toBe(credentialsMount.mountPath);
    temp = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-k8s-"));
    for (const [key, value] of Object.entries(secret.stringData as Record<string, string>)) fs.writeFileSync(path.join(temp, key), value);

    const { config } = loadConfig({ document, env: { ...imageEnvironment(), ...podEnv, CREDENTIALS_DIRECTORY: temp } });
    expect(config.destinations.scicat.password).toBe(secret.stringData["scicat-password"]);

    expect(config.http.enabled).toBe(true);
    expect(config.http.host).toBe("0.0.0.0");
    expect(container.ports).toEqual([{ name: "http", containerPort: config.http.port }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });

    const stateMount = container.volumeMounts.find((m: Doc) => m.mountPath === config.stateDir);
    expect(volume(stateMount.name).persistentVolumeClaim.claimName).toBe(byKind("PersistentVolumeClaim").metadata.name);
    expect(stateMount.readOnly).toBeFalsy();
    const dataMount = container.volumeMounts.find((m: Doc) => m.mountPath === config.dataRoot);
    expect(dataMount.readOnly).toBe(true);
  });

  it("the Service reaches the container's port and tells Prometheus where /metrics is", () => {
    const service = byKind("Service");
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    expect(service.spec.ports).toEqual([{ name: "http", port: container.ports[0].containerPort, targetPort: "http" }]);
    expect(service.metadata.annotations).toMatchObject({ "prometheus.io/port": String(container.ports[0].containerPort), "prometheus.io/path": "/metrics" });
  });
});
