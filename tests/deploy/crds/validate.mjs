// Validates custom resources against the schemas of their CRDs (the @kubernetes-models
// packages are generated from the projects' published CRDs). Reads a JSON list of objects on
// stdin, prints a JSON list of {kind, name, error} (error null when valid), one per object.
//
// The schemas' validators check types, required fields, enums and patterns, but a CRD schema
// lets unknown fields through (the API server prunes them silently). So fields are also
// checked against the packages' type declarations, which list every field the CRD knows:
// a misspelt field is an error, as `kubectl apply --validate=strict` makes it.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULES = join(HERE, "node_modules");
const declarations = new Map();

// The first interface of a .d.ts: its fields (name -> type text), whether it takes any key,
// and where the interfaces it names are declared.
function declaration(file) {
  if (declarations.has(file)) return declarations.get(file);
  let found = null;
  if (existsSync(file)) {
    const lines = readFileSync(file, "utf8").split("\n");
    const imports = {};
    for (const line of lines) {
      const m = line.match(/^import \{ (.+) \} from "(.+)";$/);
      if (!m) continue;
      const target = m[2].startsWith(".")
        ? resolve(dirname(file), m[2].replace(/\.js$/, "") + ".d.ts")
        : join(MODULES, m[2].replace(/\.js$/, "") + ".d.ts");
      for (const name of m[1].split(",")) imports[name.trim()] = target;
    }
    const start = lines.findIndex((line) => line.startsWith("export interface "));
    if (start >= 0) {
      const fields = {};
      let open = false;
      for (const line of lines.slice(start + 1)) {
        if (line === "}") break;
        if (/^    \[key: string\]/.test(line)) open = true;
        const m = line.match(/^    "([^"]+)"\??: (.*?);?$/);
        if (m) fields[m[1]] = m[2];
      }
      // Fields an interface inherits (`extends` a shared one, e.g. an endpoint's HTTP config)
      // are declared in that one's file.
      const parents = (lines[start].match(/ extends (.+) \{$/) || [null, ""])[1];
      for (const parent of parents.split(",").map((name) => name.trim())) {
        const inherited = imports[parent] && declaration(imports[parent]);
        if (inherited) Object.assign(fields, { ...inherited.fields, ...fields });
        if (inherited) Object.assign(imports, { ...inherited.imports, ...imports });
      }
      // An interface with no fields is free-form JSON (a chart's values, a raw patch).
      found = { fields, open: open || Object.keys(fields).length === 0, imports };
    }
  }
  declarations.set(file, found);
  return found;
}

// Unknown fields of value under the interface declared in file, as "path.field" strings.
function unknownFields(value, file, path) {
  const shape = declaration(file);
  if (!shape || shape.open || value === null || typeof value !== "object") return [];
  if (Array.isArray(value)) return [];
  const problems = [];
  for (const [key, item] of Object.entries(value)) {
    if (!(key in shape.fields)) {
      problems.push(`${path}.${key} is not a field of the CRD`);
      continue;
    }
    const type = shape.fields[key].replace(/ \| null$/, "");
    const array = type.match(/^Array<(I\w+)>$/);
    const named = array ? array[1] : /^I\w+$/.test(type) ? type : null;
    const target = named && shape.imports[named];
    if (!target) continue; // a primitive, a map, free-form JSON, or an inline type
    if (array && Array.isArray(item)) {
      item.forEach((element, i) => problems.push(...unknownFields(element, target, `${path}.${key}[${i}]`)));
    } else if (!array) {
      problems.push(...unknownFields(item, target, `${path}.${key}`));
    }
  }
  return problems;
}
const PACKAGES = {
  "helm.toolkit.fluxcd.io": "flux-cd",
  "source.toolkit.fluxcd.io": "flux-cd",
  "kustomize.toolkit.fluxcd.io": "flux-cd",
  "notification.toolkit.fluxcd.io": "flux-cd",
  "cert-manager.io": "cert-manager",
  "acme.cert-manager.io": "cert-manager",
  "external-secrets.io": "external-secrets",
  "monitoring.coreos.com": "prometheus-operator",
};

async function check(object) {
  const [group, version] = String(object.apiVersion || "").split("/");
  const pkg = PACKAGES[group];
  if (!pkg || !version) return `no CRD schema known for apiVersion ${object.apiVersion}`;
  let model;
  try {
    model = await import(`@kubernetes-models/${pkg}/${group}/${version}/${object.kind}`);
  } catch {
    return `no CRD schema for ${object.kind} in ${object.apiVersion}`;
  }
  try {
    new model[object.kind](object).validate();
  } catch (error) {
    return String(error.message || error);
  }
  const file = join(MODULES, "@kubernetes-models", pkg, group, version, `${object.kind}.d.ts`);
  const unknown = unknownFields(object, file, object.kind);
  return unknown.length ? unknown.join("; ") : null;
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const object of JSON.parse(input)) {
  results.push({ kind: object.kind, name: object.metadata?.name, error: await check(object) });
}
process.stdout.write(JSON.stringify(results));
