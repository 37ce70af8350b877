// The bundle's entry: `deno bundle` of this file (see update.sh) gives libphonenumber.js.
export {
  AsYouType,
  isSupportedCountry,
  parsePhoneNumberFromString,
} from "npm:libphonenumber-js@1.13.17/min";
