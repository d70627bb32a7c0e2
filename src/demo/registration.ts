import fs from "node:fs";
import path from "node:path";

/** The demo's registration: proposal DEMO-003 with one tray of two specimens, written before any of its runs. */
export const DEMO_REGISTRATION = `# Registered before the beamtime: the user labels the tray and its specimens at home.
proposal:
  id: DEMO-003
  title: Perovskite films under light soaking
  description: Degradation of mixed-halide perovskite films, in situ
  pi: { name: Dorothy Hodgkin, email: dorothy@example.org }
  members: [rosalind@example.org]
  start: 2026-03-07
  end: 2026-03-08
trays:
  - id: TRAY-A
    label: Light-soaking tray
    metadata: { holder: "12-slot" }
samples:
  - { id: PV-01, name: MAPbI3 film fresh, tray: TRAY-A, slot: "1" }
  - { id: PV-02, name: MAPbI3 film soaked 10 h, tray: TRAY-A, slot: "2", metadata: { soaking_h: 10 } }
`;

export function writeDemoRegistration(folder: string): string {
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, "DEMO-003.yaml");
  fs.writeFileSync(file, DEMO_REGISTRATION);
  return file;
}
