import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "bench/out/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
      // One driver for every Node version (src/sqlite.ts): better-sqlite3 12 aborts on Node 24.19 and later.
      "@typescript-eslint/no-restricted-imports": [
        "error",
        { paths: [{ name: "better-sqlite3", message: "open databases through src/sqlite.ts (the driver for this Node version)", allowTypeImports: true }] },
      ],
    },
  },
  {
    files: ["src/sqlite.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": "off" },
  },
  {
    files: ["bin/**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
