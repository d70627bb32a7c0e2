/**
 * Payloads of the ICAT records (kind → payload), shared by the mapping that builds them and the adapter
 * that pushes them. Dates are ISO 8601 UTC with milliseconds (`toISOString()`), safe for ICAT's strict pattern.
 */

export const ICAT_KINDS = ["investigation", "sample", "dataset"] as const;
export type IcatKind = (typeof ICAT_KINDS)[number];

/** The unique key of an Investigation besides its facility, so the adapter can find it without a remote id. */
export interface InvestigationRef {
  name: string;
  visitId: string;
}

export interface IcatInvestigationPayload extends InvestigationRef {
  title: string;
  /**
   * The proposal's groups (mapping.ownerGroup / accessGroups / group map), as ICAT InvestigationGroups would hold
   * them: role "owner" for the owner group, "reader" for the others. The same groups as the SciCat records.
   */
  groups: { owner: string; readers: string[] };
  /**
   * A registered proposal's members (e-mail addresses or user names): linked as InvestigationUsers with role
   * "member" where ICAT has a User of that name or e-mail. Absent for proposals that are not registered.
   */
  members?: string[];
  summary?: string;
  startDate?: string;
  endDate?: string;
}

export interface IcatSamplePayload {
  /** Beamtime key: the investigation record this sample depends on. */
  investigationKey: string;
  investigation: InvestigationRef;
  name: string;
  /** SampleParameters: a registered specimen's tray, slot, QR label and metadata (absent for other samples). */
  parameters?: IcatParameterPayload[];
}

export interface IcatParameterPayload {
  /** Field the value came from (a key of destinations.icat.parameters or sampleParameters, a quantity, a metadata key). */
  field: string;
  /** ParameterType name and units; the adapter resolves them to an id. */
  type: string;
  units: string;
  stringValue?: string;
  numericValue?: number;
  /** A quantity: sent only where ICAT has its ParameterType, left out (not an error) where it has not. */
  optional?: boolean;
}

export interface IcatDatafilePayload {
  /** Path relative to the dataset location, unique within the dataset. */
  name: string;
  /** Absent when longer than the server stores (destinations.icat.locationLength). */
  location?: string;
  fileSize: number;
  datafileModTime: string;
  /** Hex digest (files.checksum), where computed. */
  checksum?: string;
}

export interface IcatDatasetPayload {
  investigationKey: string;
  investigation: InvestigationRef;
  sampleKey?: string;
  sampleName?: string;
  /** The run uid: unique per investigation. */
  name: string;
  description: string;
  /** Absent when longer than the server stores (destinations.icat.locationLength). */
  location?: string;
  complete: boolean;
  startDate: string;
  endDate?: string;
  parameters: IcatParameterPayload[];
  datafiles: IcatDatafilePayload[];
  /**
   * PaNET terms the mapping rules chose (the same as the SciCat dataset's `techniques`): linked as
   * DatasetTechniques to the ICAT Techniques with these pids (ICAT 5.0+); absent when the rules name none.
   */
  techniques?: { pid: string; name: string }[];
}

/** ICAT's VARCHAR limits for the fields the mapping fills from free text (icat-api.md §7), held as UTF-8 bytes (text.ts). */
export const ICAT_LIMITS = { title: 255, summary: 4000, description: 255, name: 255, stringValue: 4000 } as const;
