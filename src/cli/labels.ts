import fs from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { LABEL_STOCKS, labelsOf, type PaperName } from "../labels/layout.js";
import { registrationFolderPath } from "../sources/registrations/config.js";
import { RegistrationFolder } from "../sources/registrations/folder.js";
import { parseRegistrationFile } from "../sources/registrations/parse.js";
import { formatRegistrationError, type Registration } from "../sources/registrations/types.js";
import { UsageError } from "../sync/errors.js";
import { globalOptions, loadCommandConfig } from "./context.js";
import { createOutput, printJson } from "./output.js";

/** `beamsync labels`: the QR label sheet of a registered proposal (or one image per label). Reads files only. */

interface LabelsOptions {
  proposal: string;
  out: string;
  format: "pdf" | "png" | "svg";
  paper: PaperName;
  file?: string;
}

export function labelsCommand(): Command {
  return new Command("labels")
    .description("write the QR label sheet of a registered proposal: one label per tray and per specimen")
    .requiredOption("--proposal <id>", "the registered proposal id")
    .requiredOption("--out <file>", "the PDF to write; with --format png|svg, the folder for one image per label")
    .addOption(new Option("--format <format>", "pdf: a printable sheet; png or svg: one image per label, the QR code with the id, name and place beside it").choices(["pdf", "png", "svg"]).default("pdf"))
    .addOption(new Option("--paper <paper>", `label stock: a4 = ${LABEL_STOCKS.a4.name}; letter = ${LABEL_STOCKS.letter.name}`).choices(["a4", "letter"]).default("a4"))
    .option("--file <registration>", "read this registration file instead of the registrations folder")
    .addHelpText(
      "after",
      `
Examples:
  beamsync labels --proposal P-2026-001 --out P-2026-001-labels.pdf
  beamsync labels --proposal P-2026-001 --out labels.pdf --paper letter
  beamsync labels --proposal P-2026-001 --out labels/ --format svg
  beamsync labels --proposal P-2026-001 --out labels/ --format png

Each QR code holds bsr:<facility>/<proposal>/s/<specimen id> (t/<tray id> for a tray), with
facility = sources.registrations.facility. Exit status: 0 written, 2 bad usage, configuration or registration.`,
    )
    .action(async (_opts, command: Command) => {
      const options = globalOptions(command) as ReturnType<typeof globalOptions> & LabelsOptions;
      const out = createOutput(options.json ?? false);
      const config = loadCommandConfig(options);
      const facility = config.sources.registrations.facility;
      const registration = findRegistration(options, registrationFolderPath(config), facility);
      const labels = labelsOf(registration, facility);
      if (options.format === "pdf") {
        const stock = LABEL_STOCKS[options.paper];
        fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
        // The PDF and image writers (pdf-lib, resvg, fontkit) load here: every other command, the daemon too, goes without them.
        const { labelSheetPdf } = await import("../labels/pdf.js");
        fs.writeFileSync(options.out, await labelSheetPdf(labels, stock, `Labels of proposal ${registration.proposal.id}`));
        const pages = Math.max(1, Math.ceil(labels.length / (stock.columns * stock.rows)));
        if (out.json) printJson(out, { proposal: registration.proposal.id, file: path.resolve(options.out), labels: labels.length, pages, stock: stock.name });
        else out.write(`wrote ${labels.length} label(s) on ${pages} page(s) of ${stock.name}: ${path.resolve(options.out)}`);
      } else {
        const { writeLabelImages } = await import("../labels/images.js");
        const files = await writeLabelImages(labels, options.out, options.format);
        if (out.json) printJson(out, { proposal: registration.proposal.id, files });
        else out.write(`wrote ${files.length} ${options.format.toUpperCase()} label(s) in ${path.resolve(options.out)}`);
      }
      process.exitCode = 0;
    });
}

function findRegistration(options: LabelsOptions, folder: string, facility: string): Registration {
  if (options.file) {
    const parsed = parseRegistrationFile(options.file, options.file);
    if (!parsed.registration) throw new UsageError(`${options.file} is not a valid registration:\n${parsed.errors.map(formatRegistrationError).join("\n")}`);
    if (parsed.registration.proposal.id !== options.proposal) throw new UsageError(`${options.file} registers proposal ${parsed.registration.proposal.id}, not ${options.proposal}`);
    return parsed.registration;
  }
  const files = new RegistrationFolder(folder, facility).load().files;
  const found = files.find((f) => f.registration?.proposal.id === options.proposal)?.registration;
  if (found) return found;
  const broken = files.filter((f) => !f.registration);
  const hint = broken.length > 0 ? `; these files have mistakes:\n${broken.flatMap((f) => f.errors.map(formatRegistrationError)).join("\n")}` : "";
  throw new UsageError(`proposal ${options.proposal} is not registered in ${folder} (sources.registrations.folder)${hint}`);
}
