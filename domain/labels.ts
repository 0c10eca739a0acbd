import { z } from 'zod';

/** Label types, their settings (with defaults) and value rules: DESIGN.md §3. */
export const LABEL_TYPES = ['categorical', 'numeric', 'text', 'star', 'thumbs'] as const;
export type LabelType = (typeof LABEL_TYPES)[number];

const categoricalSettings = z
  .strictObject({
    options: z.array(z.string().min(1, 'options must be non-empty strings')).min(2, 'options needs at least 2 entries'),
    multiChoice: z.boolean().default(false),
  })
  .refine((s) => new Set(s.options).size === s.options.length, { message: 'options must be unique', path: ['options'] });

const numericSettings = z
  .strictObject({
    min: z.number().default(0),
    max: z.number().default(10),
    step: z.number().positive('step must be greater than 0').optional(),
    display: z.enum(['slider', 'buttons']).default('slider'),
  })
  .refine((s) => s.min < s.max, { message: 'min must be less than max', path: ['min'] });

const textSettings = z
  .strictObject({
    minLength: z.int().min(0).default(0),
    maxLength: z.int().min(1).default(5000),
    placeholder: z.string().max(500).optional(),
    correction: z.boolean().default(false),
  })
  .refine((s) => s.minLength <= s.maxLength, { message: 'minLength must not exceed maxLength', path: ['minLength'] });

const starSettings = z.strictObject({ stars: z.int().min(1).max(10).default(5) });

const thumbsSettings = z.strictObject({});

export const LABEL_SETTINGS_SCHEMAS = {
  categorical: categoricalSettings,
  numeric: numericSettings,
  text: textSettings,
  star: starSettings,
  thumbs: thumbsSettings,
} as const;

export type CategoricalSettings = z.output<typeof categoricalSettings>;
export type NumericSettings = z.output<typeof numericSettings>;
export type TextSettings = z.output<typeof textSettings>;
export type StarSettings = z.output<typeof starSettings>;

/** A label's rules: the type decides the shape of its settings. */
export type LabelRules =
  | { type: 'categorical'; settings: CategoricalSettings }
  | { type: 'numeric'; settings: NumericSettings }
  | { type: 'text'; settings: TextSettings }
  | { type: 'star'; settings: StarSettings }
  | { type: 'thumbs'; settings: Record<string, never> };

export type LabelValue = string | string[] | number | boolean;

/** Typed copies of a value, kept beside the JSON for filtering and analytics. */
export interface TypedValueColumns {
  valueNumber: number | null;
  valueText: string | null;
  valueBoolean: boolean | null;
  valueTexts: string[] | null;
}

export type SettingsResult = { ok: true; rules: LabelRules } | { ok: false; message: string };

/** Parses settings for a type, filling defaults; the message names the setting and the rule. */
export function parseLabelSettings(type: LabelType, raw: unknown): SettingsResult {
  const result = LABEL_SETTINGS_SCHEMAS[type].safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? `settings.${issue.path.join('.')}` : 'settings';
    return { ok: false, message: `${where}: ${issue.message}` };
  }
  return { ok: true, rules: { type, settings: result.data } as LabelRules };
}

export type ValueResult = { ok: true; value: LabelValue } | { ok: false; message: string };

const fail = (message: string): ValueResult => ({ ok: false, message });

/** Float tolerance for grid checks: 0.95 on a 0.01 grid is 94.99999999999999 steps. */
function isOnGrid(value: number, min: number, step: number): boolean {
  const steps = (value - min) / step;
  return Math.abs(steps - Math.round(steps)) <= 1e-9 * Math.max(1, Math.abs(steps));
}

/** Checks a value against a label's rules. Messages follow the human-review API's wording. */
export function validateLabelValue(rules: LabelRules, value: unknown): ValueResult {
  switch (rules.type) {
    case 'categorical': {
      const { options, multiChoice } = rules.settings;
      const invalid = (v: string) => fail(`Invalid value: ${v}. Valid options are: ${options.join(', ')}.`);
      if (multiChoice) {
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
          return fail(`Value must be an array of options (${options.join(', ')}).`);
        }
        if (value.length === 0) return fail('Value must select at least one option.');
        const unknown = value.find((v) => !options.includes(v));
        if (unknown !== undefined) return invalid(unknown);
        if (new Set(value).size !== value.length) return fail('Value must not repeat an option.');
        return { ok: true, value: [...value] };
      }
      if (typeof value !== 'string') return fail(`Value must be one of the options (${options.join(', ')}).`);
      if (!options.includes(value)) return invalid(value);
      return { ok: true, value };
    }
    case 'numeric': {
      const { min, max, step } = rules.settings;
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail('Value must be a number.');
      if (value < min || value > max) return fail(`Value ${value} is out of range [${min}, ${max}].`);
      if (step !== undefined && !isOnGrid(value, min, step)) {
        return fail(`Value ${value} is not on the grid of step ${step} from ${min}.`);
      }
      return { ok: true, value };
    }
    case 'text': {
      const { minLength, maxLength } = rules.settings;
      if (typeof value !== 'string') return fail('Value must be a string.');
      if (value.length > maxLength) return fail(`String value exceeds maximum length of ${maxLength} characters.`);
      if (value.length < minLength) return fail(`String value is shorter than the minimum length of ${minLength} characters.`);
      return { ok: true, value };
    }
    case 'star': {
      const { stars } = rules.settings;
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail('Value must be a number of stars.');
      if (!Number.isInteger(value)) return fail(`Value ${value} must be a whole number of stars.`);
      if (value < 1 || value > stars) return fail(`Value ${value} is out of range [1, ${stars}].`);
      return { ok: true, value };
    }
    case 'thumbs': {
      if (typeof value !== 'boolean') return fail('Value must be a boolean (true = thumbs up, false = thumbs down).');
      return { ok: true, value };
    }
  }
}

export function typedValueColumns(value: LabelValue): TypedValueColumns {
  return {
    valueNumber: typeof value === 'number' ? value : null,
    valueText: typeof value === 'string' ? value : null,
    valueBoolean: typeof value === 'boolean' ? value : null,
    valueTexts: Array.isArray(value) ? value : null,
  };
}

export const LABEL_KEY = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Derives a label key from its name: "Response quality" → "response_quality". */
export function slugifyKey(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
}
