/**
 * Reference data a facility curates (icat-api.md §10.9), shaped to exercise an ingester's reference-data
 * checks: ParameterTypes that are usable for datasets, some that are not, and one with enforced limits.
 */

export const FIXTURE = {
  facility: "MyFacility",
  investigationType: "experiment",
  datasetTypes: ["raw", "processed"],
  instrument: "11.0.1.2",
  user: "simple/jdoe",
  investigation: { name: "ab123", visitId: "id00-1", title: "Fixture investigation" },
  parameterTypes: [
    { name: "plan_name", units: "N/A", valueType: "STRING", applicableToDataset: true },
    { name: "exit_status", units: "N/A", valueType: "STRING", applicableToDataset: true },
    { name: "num_events", units: "N/A", valueType: "NUMERIC", applicableToDataset: true },
    { name: "scan_id", units: "N/A", valueType: "NUMERIC", applicableToDataset: true },
    { name: "operator", units: "N/A", valueType: "STRING", applicableToDataset: true },
    // Usable for samples only: a dataset parameter of this type is a VALIDATION error.
    { name: "sample_temperature", units: "K", valueType: "NUMERIC", applicableToSample: true },
    // A registered specimen's place and label (destinations.icat.sampleParameters' defaults).
    { name: "tray", units: "N/A", valueType: "STRING", applicableToSample: true },
    { name: "slot", units: "N/A", valueType: "STRING", applicableToSample: true },
    { name: "qr_label", units: "N/A", valueType: "STRING", applicableToSample: true },
    // Not applicable to anything (the server default).
    { name: "beam_current", units: "mA", valueType: "NUMERIC" },
    // Enforced range.
    { name: "energy", units: "eV", valueType: "NUMERIC", applicableToDataset: true, enforced: true, minimumNumericValue: 10, maximumNumericValue: 30000 },
  ],
} as const;

export interface FixtureIds {
  facility: number;
  investigationType: number;
  datasetTypes: Record<string, number>;
  instrument: number;
  /** By ParameterType name. */
  parameterTypes: Record<string, number>;
  user: number;
  investigation: number;
}

/** Writes the fixtures through the fake's own write path (so they pass the same validation). */
export function loadFixtures(create: (entities: unknown) => number[]): FixtureIds {
  const [facility] = create({ Facility: { name: FIXTURE.facility, fullName: "My Facility (fake ICAT)" } }) as [number];
  const ref = { id: facility };
  const [investigationType] = create({ InvestigationType: { facility: ref, name: FIXTURE.investigationType } }) as [number];
  const datasetTypeIds = create(FIXTURE.datasetTypes.map((name) => ({ DatasetType: { facility: ref, name } })));
  const [instrument] = create({ Instrument: { facility: ref, name: FIXTURE.instrument, fullName: `Beamline ${FIXTURE.instrument}` } }) as [number];
  const parameterTypeIds = create(FIXTURE.parameterTypes.map((pt) => ({ ParameterType: { facility: ref, ...pt } })));
  const [user] = create({ User: { name: FIXTURE.user, fullName: "Jane Doe" } }) as [number];
  const [investigation] = create({
    Investigation: {
      facility: ref,
      type: { id: investigationType },
      ...FIXTURE.investigation,
      startDate: "2024-01-29T08:00:00.000Z",
      investigationInstruments: [{ instrument: { id: instrument } }],
      investigationUsers: [{ user: { id: user }, role: "principal_experimenter" }],
    },
  }) as [number];
  return {
    facility,
    investigationType,
    datasetTypes: Object.fromEntries(FIXTURE.datasetTypes.map((name, i) => [name, datasetTypeIds[i] as number])),
    instrument,
    parameterTypes: Object.fromEntries(FIXTURE.parameterTypes.map((pt, i) => [pt.name, parameterTypeIds[i] as number])),
    user,
    investigation,
  };
}
