import { InvalidArgumentError } from "commander";
import type { DestinationName } from "../mapping/record.js";

export function parseDestination(value: string): DestinationName {
  if (value !== "scicat" && value !== "icat") throw new InvalidArgumentError("expected scicat or icat");
  return value;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number");
  return n;
}
