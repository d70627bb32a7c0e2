/** A registration file of the tests: a proposal with one tray and two specimens. */
export const REGISTRATION = `# proposal P-REG-1, registered before the beamtime
proposal:
  id: P-REG-1
  title: Cathodes in operando
  description: NMC cathodes cycled in situ
  pi: { name: Ada Lovelace, email: ada@example.org }
  members: [grace@example.org]
  start: 2026-12-10
  end: 2026-12-12T18:00:00Z
trays:
  - id: T1
    label: Front tray
samples:
  - { id: S-0001, name: NMC811 pristine, tray: T1, slot: A1 }
  - { id: S-0002, name: NMC811 cycled, tray: T1, slot: A2, metadata: { cycles: 100 } }
`;
