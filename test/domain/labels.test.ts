import { describe, expect, it } from 'vitest';
import { parseLabelSettings, slugifyKey, typedValueColumns, validateLabelValue, type LabelRules, type LabelType } from '../../domain/labels.js';

/** Parses settings that must be valid, returning the rules (the test fails loudly otherwise). */
function rules(type: LabelType, settings?: unknown): LabelRules {
  const parsed = parseLabelSettings(type, settings);
  if (!parsed.ok) throw new Error(`expected valid ${type} settings, got: ${parsed.message}`);
  return parsed.rules;
}

function accepts(r: LabelRules, value: unknown) {
  expect(validateLabelValue(r, value)).toEqual({ ok: true, value });
}

function rejects(r: LabelRules, value: unknown, message: string) {
  expect(validateLabelValue(r, value)).toEqual({ ok: false, message });
}

function settingsError(type: LabelType, settings: unknown, message: string) {
  expect(parseLabelSettings(type, settings)).toEqual({ ok: false, message });
}

describe('label settings defaults', () => {
  it('fills numeric defaults: min 0, max 10, slider, no step (continuous)', () => {
    expect(rules('numeric', {})).toEqual({ type: 'numeric', settings: { min: 0, max: 10, display: 'slider' } });
    expect(rules('numeric', undefined)).toEqual({ type: 'numeric', settings: { min: 0, max: 10, display: 'slider' } });
  });

  it('fills text defaults: minLength 0, maxLength 5000, correction false', () => {
    expect(rules('text', {})).toEqual({ type: 'text', settings: { minLength: 0, maxLength: 5000, correction: false } });
  });

  it('fills star defaults: 5 stars', () => {
    expect(rules('star', {})).toEqual({ type: 'star', settings: { stars: 5 } });
    expect(rules('star', null)).toEqual({ type: 'star', settings: { stars: 5 } });
  });

  it('fills categorical multiChoice false and keeps the options in order', () => {
    expect(rules('categorical', { options: ['good', 'bad'] })).toEqual({
      type: 'categorical',
      settings: { options: ['good', 'bad'], multiChoice: false },
    });
  });

  it('has no settings for thumbs', () => {
    expect(rules('thumbs', {})).toEqual({ type: 'thumbs', settings: {} });
  });

  it('keeps given settings over the defaults', () => {
    expect(rules('numeric', { min: -1, max: 1, step: 0.5, display: 'buttons' }).settings).toEqual({ min: -1, max: 1, step: 0.5, display: 'buttons' });
    expect(rules('text', { minLength: 3, maxLength: 10, placeholder: 'Why?', correction: true }).settings).toEqual({
      minLength: 3,
      maxLength: 10,
      placeholder: 'Why?',
      correction: true,
    });
    expect(rules('star', { stars: 10 }).settings).toEqual({ stars: 10 });
    expect(rules('star', { stars: 1 }).settings).toEqual({ stars: 1 });
    expect(rules('categorical', { options: ['a', 'b', 'c'], multiChoice: true }).settings).toEqual({ options: ['a', 'b', 'c'], multiChoice: true });
  });
});

describe('label settings errors name the setting and the rule', () => {
  it('rejects categorical with fewer than 2 options', () => {
    settingsError('categorical', { options: ['only'] }, 'settings.options: options needs at least 2 entries');
    settingsError('categorical', { options: [] }, 'settings.options: options needs at least 2 entries');
  });

  it('rejects categorical without options', () => {
    const parsed = parseLabelSettings('categorical', {});
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/^settings\.options: /);
  });

  it('rejects duplicate categorical options', () => {
    settingsError('categorical', { options: ['good', 'bad', 'good'] }, 'settings.options: options must be unique');
  });

  it('rejects empty-string categorical options', () => {
    settingsError('categorical', { options: ['good', ''] }, 'settings.options.1: options must be non-empty strings');
  });

  it('rejects numeric min >= max', () => {
    settingsError('numeric', { min: 5, max: 5 }, 'settings.min: min must be less than max');
    settingsError('numeric', { min: 11 }, 'settings.min: min must be less than max');
    settingsError('numeric', { min: 0, max: -1 }, 'settings.min: min must be less than max');
  });

  it('rejects a numeric step that is not positive', () => {
    settingsError('numeric', { step: 0 }, 'settings.step: step must be greater than 0');
    settingsError('numeric', { step: -0.5 }, 'settings.step: step must be greater than 0');
  });

  it('rejects an unknown numeric display', () => {
    const parsed = parseLabelSettings('numeric', { display: 'dial' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/^settings\.display: /);
  });

  it('rejects 11 stars, 0 stars and fractional stars', () => {
    settingsError('star', { stars: 11 }, 'settings.stars: Too big: expected number to be <=10');
    settingsError('star', { stars: 0 }, 'settings.stars: Too small: expected number to be >=1');
    const fractional = parseLabelSettings('star', { stars: 2.5 });
    expect(fractional.ok).toBe(false);
    if (!fractional.ok) expect(fractional.message).toMatch(/^settings\.stars: /);
  });

  it('rejects text minLength above maxLength', () => {
    settingsError('text', { minLength: 10, maxLength: 5 }, 'settings.minLength: minLength must not exceed maxLength');
  });

  it('rejects text maxLength below 1', () => {
    const parsed = parseLabelSettings('text', { maxLength: 0 });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/^settings\.maxLength: /);
  });

  it('rejects an unknown setting on every type, naming it', () => {
    settingsError('thumbs', { foo: 1 }, 'settings: Unrecognized key: "foo"');
    settingsError('numeric', { foo: 1 }, 'settings: Unrecognized key: "foo"');
    settingsError('star', { stars: 5, color: 'gold' }, 'settings: Unrecognized key: "color"');
    settingsError('text', { maxlength: 10 }, 'settings: Unrecognized key: "maxlength"');
    settingsError('categorical', { options: ['a', 'b'], multi: true }, 'settings: Unrecognized key: "multi"');
  });

  it('rejects a wrongly typed setting', () => {
    const parsed = parseLabelSettings('categorical', { options: ['a', 'b'], multiChoice: 'yes' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/^settings\.multiChoice: /);
  });
});

describe('categorical values (single choice)', () => {
  const rating = rules('categorical', { options: ['good', 'bad'] });

  it('accepts each option', () => {
    accepts(rating, 'good');
    accepts(rating, 'bad');
  });

  it('rejects a value that is not an option with the human-review message', () => {
    rejects(rating, 'poor', 'Invalid value: poor. Valid options are: good, bad.');
    rejects(rating, 'Good', 'Invalid value: Good. Valid options are: good, bad.');
  });

  it('rejects a non-string value (also an array on a single-choice label)', () => {
    rejects(rating, 1, 'Value must be one of the options (good, bad).');
    rejects(rating, ['good'], 'Value must be one of the options (good, bad).');
    rejects(rating, true, 'Value must be one of the options (good, bad).');
  });
});

describe('categorical values (multiChoice)', () => {
  const defects = rules('categorical', {
    options: ['grammatical', 'spelling', 'hallucination', 'repetition', 'inappropriate', 'off_topic', 'incompleteness', 'ambiguity'],
    multiChoice: true,
  });
  const options = 'grammatical, spelling, hallucination, repetition, inappropriate, off_topic, incompleteness, ambiguity';

  it('accepts an array of distinct options, one or many', () => {
    accepts(defects, ['grammatical', 'spelling', 'ambiguity']);
    accepts(defects, ['hallucination']);
  });

  it('names the first unknown option', () => {
    rejects(defects, ['grammatical', 'typo', 'nonsense'], `Invalid value: typo. Valid options are: ${options}.`);
  });

  it('rejects a plain string, a mixed array, an empty array and a repeated option', () => {
    rejects(defects, 'grammatical', `Value must be an array of options (${options}).`);
    rejects(defects, ['grammatical', 3], `Value must be an array of options (${options}).`);
    rejects(defects, [], 'Value must select at least one option.');
    rejects(defects, ['spelling', 'spelling'], 'Value must not repeat an option.');
  });
});

describe('numeric values', () => {
  const continuous = rules('numeric', {});
  const confidence = rules('numeric', { min: 0, max: 1, step: 0.01 });

  it('accepts any number in [min, max] when continuous, bounds included', () => {
    for (const v of [0, 10, 5, 3.14159, 9.999]) accepts(continuous, v);
  });

  it('rejects out-of-range values with the human-review message', () => {
    rejects(continuous, 15, 'Value 15 is out of range [0, 10].');
    rejects(continuous, -1, 'Value -1 is out of range [0, 10].');
    rejects(continuous, 10.5, 'Value 10.5 is out of range [0, 10].');
    rejects(confidence, 1.01, 'Value 1.01 is out of range [0, 1].');
  });

  it('accepts values on the step grid despite float error (0.95 on a 0.01 grid)', () => {
    // (0.95 - 0) / 0.01 === 94.99999999999999 in floating point.
    for (const v of [0, 0.01, 0.07, 0.29, 0.5, 0.57, 0.95, 0.99, 1]) accepts(confidence, v);
  });

  it('rejects values off the step grid (0.955 on a 0.01 grid)', () => {
    rejects(confidence, 0.955, 'Value 0.955 is not on the grid of step 0.01 from 0.');
    rejects(confidence, 0.001, 'Value 0.001 is not on the grid of step 0.01 from 0.');
  });

  it('measures the grid from min, not from 0', () => {
    const odd = rules('numeric', { min: 1, max: 9, step: 2 });
    for (const v of [1, 3, 5, 9]) accepts(odd, v);
    rejects(odd, 2, 'Value 2 is not on the grid of step 2 from 1.');
    const tenths = rules('numeric', { min: 0.1, max: 1, step: 0.1 });
    for (const v of [0.1, 0.3, 0.7, 1]) accepts(tenths, v);
    rejects(tenths, 0.25, 'Value 0.25 is not on the grid of step 0.1 from 0.1.');
  });

  it('rejects non-numbers, NaN and infinities', () => {
    for (const v of ['5', NaN, Infinity, -Infinity, true, [5], null]) rejects(continuous, v, 'Value must be a number.');
  });
});

describe('text values', () => {
  const defaults = rules('text', {});
  const bounded = rules('text', { minLength: 3, maxLength: 10 });

  it('accepts strings within the length bounds, bounds included', () => {
    accepts(defaults, '');
    accepts(defaults, 'The correct answer should emphasize scalability and fault tolerance.');
    accepts(defaults, 'x'.repeat(5000));
    accepts(bounded, 'abc');
    accepts(bounded, 'abcdefghij');
  });

  it('rejects a string over maxLength with the human-review message', () => {
    rejects(defaults, 'x'.repeat(5001), 'String value exceeds maximum length of 5000 characters.');
    rejects(bounded, 'abcdefghijk', 'String value exceeds maximum length of 10 characters.');
  });

  it('rejects a string under minLength', () => {
    rejects(bounded, 'ab', 'String value is shorter than the minimum length of 3 characters.');
  });

  it('rejects non-strings', () => {
    for (const v of [5, true, ['a'], null]) rejects(defaults, v, 'Value must be a string.');
  });
});

describe('star values', () => {
  const five = rules('star', {});
  const ten = rules('star', { stars: 10 });

  it('accepts whole numbers 1..stars', () => {
    for (const v of [1, 2, 3, 4, 5]) accepts(five, v);
    accepts(ten, 10);
  });

  it('rejects 0 and values above stars', () => {
    rejects(five, 0, 'Value 0 is out of range [1, 5].');
    rejects(five, 6, 'Value 6 is out of range [1, 5].');
    rejects(ten, 11, 'Value 11 is out of range [1, 10].');
  });

  it('rejects fractional stars', () => {
    rejects(five, 3.5, 'Value 3.5 must be a whole number of stars.');
  });

  it('rejects non-numbers', () => {
    for (const v of ['3', NaN, true]) rejects(five, v, 'Value must be a number of stars.');
  });
});

describe('thumbs values', () => {
  const thumbs = rules('thumbs', {});

  it('accepts true (up) and false (down)', () => {
    accepts(thumbs, true);
    accepts(thumbs, false);
  });

  it('rejects anything else', () => {
    for (const v of ['true', 1, 0, 'up', null]) rejects(thumbs, v, 'Value must be a boolean (true = thumbs up, false = thumbs down).');
  });
});

describe('typed value columns', () => {
  it('copies each value into exactly one typed column', () => {
    expect(typedValueColumns(0.95)).toEqual({ valueNumber: 0.95, valueText: null, valueBoolean: null, valueTexts: null });
    expect(typedValueColumns('good')).toEqual({ valueNumber: null, valueText: 'good', valueBoolean: null, valueTexts: null });
    expect(typedValueColumns(false)).toEqual({ valueNumber: null, valueText: null, valueBoolean: false, valueTexts: null });
    expect(typedValueColumns(['a', 'b'])).toEqual({ valueNumber: null, valueText: null, valueBoolean: null, valueTexts: ['a', 'b'] });
  });
});

describe('label keys derived from names', () => {
  it('slugifies a name into a key', () => {
    expect(slugifyKey('Response quality')).toBe('response_quality');
    expect(slugifyKey('  Confidence Score!! ')).toBe('confidence_score');
    expect(slugifyKey('Café crème')).toBe('cafe_creme');
    expect(slugifyKey('x'.repeat(100))).toHaveLength(64);
  });
});
