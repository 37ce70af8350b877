// The part of libphonenumber-js 1.13.17's API that lib/model/phones.ts uses (its own types
// are in the npm package's index.d.ts; these are a subset, written to match them).

/** An ISO 3166-1 alpha-2 region code, such as "GB". */
export type CountryCode = string;

/** A parsed phone number. */
export interface PhoneNumber {
  /** E.164: "+" and the digits, such as "+442079460958". */
  readonly number: string;
  readonly countryCallingCode: string;
  readonly nationalNumber: string;
  readonly ext?: string;
  /** Whether the length fits a number of its country (the "min" metadata's check). */
  isPossible(): boolean;
  /** Whether the number is one its country uses (the "min" metadata's length and prefix). */
  isValid(): boolean;
}

/** Parses a number; one without a "+" needs `defaultCountry`. Undefined when it cannot. */
export function parsePhoneNumberFromString(
  text: string,
  defaultCountry?: CountryCode,
): PhoneNumber | undefined;

/** Whether the metadata knows this region code. */
export function isSupportedCountry(code: string): boolean;

/** Formats a number as it is typed; used here for the international form of a partial one. */
export class AsYouType {
  constructor(defaultCountry?: CountryCode);
  input(text: string): string;
  /** The number typed so far (`number` in international form), once its country is known. */
  getNumber(): PhoneNumber | undefined;
}
