import assert from "node:assert/strict";
import { blankContact, type ContactFields } from "../model/contact.ts";
import {
  csvDate,
  detectCsvLayout,
  formatCsv,
  formatCsvRows,
  parseCsv,
  parseCsvRows,
} from "./csv.ts";
import { contacts, fc, text } from "../../tests/arbitraries.ts";

const fixture = (name: string) =>
  Deno.readFileSync(new URL(`../../tests/fixtures/${name}`, import.meta.url));

// RFC 4180 rows ---------------------------------------------------------------------------

Deno.test("parseCsvRows() reads quotes, doubled quotes, embedded commas and line breaks", () => {
  const { rows, lines, warnings } = parseCsvRows(
    'a,b,c\r\n"1,2","say ""hi""","two\r\nlines"\r\n\r\nx,,\n"",y,"z"',
  );
  assert.deepEqual(rows, [
    ["a", "b", "c"],
    ["1,2", 'say "hi"', "two\r\nlines"],
    ["x", "", ""],
    ["", "y", "z"],
  ]);
  assert.deepEqual(lines, [1, 2, 5, 6]);
  assert.deepEqual(warnings, []);
});

Deno.test("parseCsvRows() drops a byte order mark and accepts LF, CRLF and CR", () => {
  for (const eol of ["\n", "\r\n", "\r"]) {
    assert.deepEqual(parseCsvRows(`\uFEFFname${eol}Bob${eol}`).rows, [["name"], ["Bob"]]);
  }
});

Deno.test("parseCsvRows() reports a quote that never closes and keeps the text", () => {
  const { rows, warnings } = parseCsvRows('a,b\r\n1,"open\r\nstill open');
  assert.deepEqual(rows, [["a", "b"], ["1", "open\r\nstill open"]]);
  assert.deepEqual(warnings, [{ line: 2, reason: "The quote opened on line 2 is never closed" }]);
});

Deno.test("parseCsvRows() takes a quote inside an unquoted field literally", () => {
  assert.deepEqual(parseCsvRows('a,5" screen,b\r\n').rows, [["a", '5" screen', "b"]]);
});

Deno.test("parseCsvRows() uses semicolons or tabs when the header has no comma", () => {
  assert.deepEqual(parseCsvRows('name;phones\r\n"Bob; Jr";555\r\n').rows, [
    ["name", "phones"],
    ["Bob; Jr", "555"],
  ]);
  assert.deepEqual(parseCsvRows("name\tphones\nBob\t555\n").rows, [["name", "phones"], [
    "Bob",
    "555",
  ]]);
});

Deno.test("formatCsvRows() property: parseCsvRows() gives the rows back", () => {
  const field = fc.oneof(text(20), fc.constantFrom("", '"', ",", "\r\n", " x ", '""'));
  const row = fc.array(field, { minLength: 1, maxLength: 6 })
    .filter((r) => r.length > 1 || r[0] !== ""); // a lone empty field is a blank line
  fc.assert(
    fc.property(fc.array(row, { maxLength: 6 }), (rows) => {
      const parsed = parseCsvRows(formatCsvRows(rows));
      assert.deepEqual(parsed.rows, rows);
      assert.deepEqual(parsed.warnings, []);
    }),
    { numRuns: 300 },
  );
});

// Layouts ---------------------------------------------------------------------------------

Deno.test("detectCsvLayout() needs a name column and picks the layout that knows most", () => {
  assert.equal(detectCsvLayout(["name", "house", "phones", "Birthday"]), "plain");
  assert.equal(detectCsvLayout(["Given Name", "E-mail 1 - Value"]), "google");
  assert.equal(detectCsvLayout(["First Name", "Phone 1 - Label", "Phone 1 - Value"]), "google");
  assert.equal(detectCsvLayout(["First Name", "E-mail Address", "Home Street"]), "outlook");
  assert.equal(detectCsvLayout(["phones", "emails"]), null);
});

Deno.test("parseCsv() reads a Google Contacts export: multi-values, labels, address", () => {
  const result = parseCsv(fixture("google.csv"));
  const [ann, jose, acme] = result.contacts;
  assert.deepEqual(ann, {
    ...blankContact(""),
    name: "Ann Lee",
    house: "42",
    street: "Elm Road, Flat 3",
    town: "Springfield",
    postcode: "62704",
    phones: [
      { label: "mobile", number: "+1 555-0100" },
      { label: "mobile", number: "+1 555-0101" },
      { label: "Gym locker", number: "555-0199" },
    ],
    emails: [
      { label: "home", address: "ann@example.com" },
      { label: "work", address: "ann.lee@work.example" },
    ],
    urls: [{ label: "blog", url: "https://ann.example" }],
    birthday: "1990-02-03",
    groups: ["Friends"], // "* myContacts" is every contact of the export: no group
    notes: 'Vegetarian.\nLikes "jazz", cats.',
    uid: "",
    extra: { address: { label: "home", region: "IL", country: "US" } },
  });
  assert.equal(jose!.name, "Dr. José Álvarez");
  assert.equal(acme!.name, "Acme Plumbing"); // no name: the organization names it
  assert.equal(acme!.org, "Acme Plumbing");
  assert.deepEqual(result.skipped, [{
    index: 3,
    line: 10,
    reason: "The row has no usable name: no name, company, e-mail or phone",
  }]);
  assert.deepEqual(result.warnings, []);
});

Deno.test("parseCsv() reads Google's 2024 layout with a byte order mark and LF", () => {
  const result = parseCsv(fixture("google-2024.csv"));
  assert.deepEqual(result.contacts[0], {
    ...blankContact(""),
    name: "Björk Guðmundsdóttir",
    house: "2. hæð",
    street: "Laugavegur 7",
    town: "Reykjavík",
    postcode: "101",
    phones: [{ label: "mobile", number: "+354 555 1234" }],
    emails: [{ label: "other", address: "bjork@example.is" }],
    nickname: "Bjork",
    notes: "",
    uid: "",
    extra: { address: { label: "work", country: "Iceland" } },
  });
  assert.deepEqual(result.warnings, []);
});

Deno.test("parseCsv() reads an Outlook export in Windows-1252: home address first", () => {
  const result = parseCsv(fixture("outlook.csv"));
  const [francois, contoso] = result.contacts;
  assert.deepEqual(francois, {
    ...blankContact(""),
    name: "François Dupré",
    house: "5",
    street: "Rue de la Paix, Bâtiment B",
    town: "Paris",
    postcode: "75002",
    phones: [
      { label: "work", number: "+33 1 42 14 20 00" },
      { label: "home fax", number: "+33 1 23 45 67 89" },
      { label: "mobile", number: "+33 6 12 34 56 78" },
    ],
    emails: [{ label: "", address: "francois.dupre@example.fr" }],
    org: "Société Générale d'Exemple",
    title: "Directeur",
    birthday: "1975-03-14",
    notes: "Prefers e-mail, never calls before 9.",
    uid: "",
    extra: { address: { label: "home", country: "France" } },
  });
  assert.equal(contoso!.name, "Contoso Ltd");
  // Outlook's empty dates (0/0/00), Gender "Unspecified" and the like are not reported.
  assert.deepEqual(result.warnings.map((w) => w.reason), [
    "The input is not valid UTF-8: read as Windows-1252",
    'Column "Business Street" is not imported: 1 row has a value in it',
    'Column "Business City" is not imported: 1 row has a value in it',
    'Column "Business Postal Code" is not imported: 1 row has a value in it',
    'Column "Business Country/Region" is not imported: 1 row has a value in it',
  ]);
});

Deno.test("parseCsv() reports an unknown column and never guesses what it holds", () => {
  const result = parseCsv("name,phones,Mobile\r\nBob,555-0100,555-0199\r\n");
  assert.deepEqual(result.contacts[0]!.phones, [{ label: "", number: "555-0100" }]);
  assert.deepEqual(result.warnings, [{
    line: 1,
    reason: 'Unknown column "Mobile" in the plain layout: not imported',
  }]);
});

Deno.test("parseCsv() reports a column named like an object's own property (constructor, __proto__)", () => {
  for (const layout of ["First Name,Last Name", "First Name,Middle Name,Last Name"]) {
    const result = parseCsv(`${layout},constructor,__proto__,toString\r\nBob,Lee,x,y,z\r\n`);
    assert.equal(result.contacts.length, 1, layout);
    const unknown = result.warnings.filter((w) => w.reason.startsWith("Unknown column"));
    assert.deepEqual(
      unknown.map((w) => /"([^"]+)"/.exec(w.reason)?.[1]),
      ["constructor", "__proto__", "toString"],
      layout,
    );
  }
});

Deno.test("parseCsv() skips a file whose header it does not know", () => {
  const result = parseCsv("Full name,Telephone\r\nBob,555\r\n");
  assert.deepEqual(result.contacts, []);
  assert.equal(result.skipped.length, 1);
  assert.match(result.skipped[0]!.reason, /^Unknown CSV header "Full name,Telephone": expected/);
});

Deno.test("parseCsv() reports a row with more fields than the header", () => {
  const result = parseCsv("name,town\r\nBob,Leeds,extra\r\n");
  assert.equal(result.contacts[0]!.town, "Leeds");
  assert.deepEqual(result.warnings, [{
    index: 0,
    line: 2,
    name: "Bob",
    reason: "The row has 3 fields, the header 2: the last 1 ignored",
  }]);
});

Deno.test("parseCsv() reads UTF-16 with a byte order mark (as some Outlook versions write)", () => {
  const text = "name,town\r\nZoë,Köln\r\n";
  const bytes = new Uint8Array(2 + text.length * 2);
  bytes.set([0xff, 0xfe]);
  for (let i = 0; i < text.length; i++) bytes[2 + 2 * i] = text.charCodeAt(i);
  const result = parseCsv(bytes);
  assert.deepEqual([result.contacts[0]!.name, result.contacts[0]!.town], ["Zoë", "Köln"]);
  assert.deepEqual(result.warnings, []);
});

Deno.test("parseCsv() leaves out what breaks the caps and keeps the row", () => {
  const phones = Array.from({ length: 22 }, (_, i) => `555-${i}`).join("; ");
  const result = parseCsv(`name,phones,emails\r\nBob,"${phones}",not-an-email\r\n`);
  assert.equal(result.contacts[0]!.phones.length, 20);
  assert.deepEqual(result.contacts[0]!.emails, []);
  assert.equal(result.warnings.length, 2);
});

Deno.test("parseCsv() reads Google's organisation, title, nickname, dates, websites and labels", () => {
  const header = [
    "First Name",
    "Last Name",
    "Nickname",
    "Organization Name",
    "Organization Title",
    "Organization Department",
    "Birthday",
    "Labels",
    "Website 1 - Label",
    "Website 1 - Value",
    "Website 2 - Label",
    "Website 2 - Value",
    "Event 1 - Label",
    "Event 1 - Value",
    "Event 2 - Label",
    "Event 2 - Value",
  ].join(",");
  const row = [
    "Ann",
    "Lee",
    "Annie",
    "Acme",
    "Engineer",
    "R&D",
    "--04-12",
    "* myContacts ::: Family ::: * starred ::: Chess club",
    "Home Page",
    "ann.example ::: https://ann.example/cv",
    "Work",
    "ftp://files.example",
    "Anniversary",
    "2005-06-30",
    "Graduation",
    "2001-07-01",
  ].join(",");
  const result = parseCsv(header + "\r\n" + row + "\r\n");
  const ann = result.contacts[0]!;
  assert.deepEqual(
    [ann.name, ann.nickname, ann.org, ann.title, ann.birthday, ann.anniversary],
    ["Ann Lee", "Annie", "Acme", "Engineer", "--04-12", "2005-06-30"],
  );
  assert.deepEqual(ann.groups, ["Family", "starred", "Chess club"]);
  assert.deepEqual(ann.urls, [
    { label: "home page", url: "https://ann.example" },
    { label: "home page", url: "https://ann.example/cv" },
  ]);
  // The department goes with the organisation (vCard's ORG writes both).
  assert.deepEqual(ann.extra, { vcardOrg: { org: "Acme", value: "Acme;R&D" } });
  // What has no field is reported, with the reason.
  assert.deepEqual(result.warnings.map((w) => w.reason), [
    'Urls[0].url "ftp://files.example" is not a web address: write one starting with http://, ' +
    "https:// or mailto: (a bare host such as example.com is given https://): left out",
    'Column "Event 2 - Value" is not imported: 1 row has a value in it',
  ]);
});

Deno.test("parseCsv() reads Outlook's company, job title, dates, web pages and categories", () => {
  const header =
    "First Name,Last Name,Company,Department,Job Title,Birthday,Anniversary,Web Page,Personal Web Page,Categories";
  const rows = [
    'Bo,Berg,Contoso,Sales,Manager,12/25/1980,0/0/00,www.contoso.example,bo.example,"Business;Friends, Golf"',
    "Cy,Cole,,Ops,,31/12/1990,6/31/2001,,,",
  ];
  const result = parseCsv([header, ...rows].join("\r\n"));
  const [bo, cy] = result.contacts;
  assert.deepEqual(
    [bo!.org, bo!.title, bo!.birthday, bo!.anniversary, bo!.groups],
    ["Contoso", "Manager", "1980-12-25", "", ["Business", "Friends", "Golf"]],
  );
  assert.deepEqual(bo!.urls, [
    { label: "", url: "https://www.contoso.example" },
    { label: "home", url: "https://bo.example" },
  ]);
  assert.deepEqual(bo!.extra.vcardOrg, { org: "Contoso", value: "Contoso;Sales" });
  assert.equal(cy!.birthday, "1990-12-31"); // day first: 31 is no month
  assert.deepEqual(result.warnings.map((w) => [w.name, w.reason]), [
    ["Cy Cole", 'Anniversary "6/31/2001" is not a date: left out'],
    ["Cy Cole", 'Department "Ops" left out: the row has no organisation'],
  ]);
});

Deno.test("csvDate() reads Google's and Outlook's dates, and nothing that is not a day", () => {
  const cases: Array<[string, string | null]> = [
    ["1980-04-12", "1980-04-12"],
    ["--04-12", "--04-12"],
    ["19800412", "1980-04-12"],
    ["4/12/1980", "1980-04-12"],
    ["04/02/1980", "1980-04-02"],
    ["13/2/1980", "1980-02-13"],
    ["1980-04-12 00:00:00", "1980-04-12"],
    ["2/29/2023", null],
    ["12.04.1980", null],
    ["April 12", null],
  ];
  for (const [text, date] of cases) assert.equal(csvDate(text), date, text);
});

// Plain export ----------------------------------------------------------------------------

Deno.test("formatCsv() escapes separators inside labels and values of multi-values", () => {
  const contact: ContactFields = {
    ...blankContact(""),
    name: "Odd, Bob",
    house: "",
    street: "",
    town: "",
    postcode: "",
    phones: [{ label: "a:b;c", number: "1;2:3\\4" }],
    emails: [{ label: "", address: "x;y@z.example" }],
    notes: 'He said "hi"',
    uid: "u",
    extra: {},
  };
  const text = formatCsv([contact]);
  assert.equal(
    text.split("\r\n")[1],
    '"Odd, Bob",,,,,"a\\:b\\;c:1\\;2\\:3\\\\4","x\\;y@z.example","He said ""hi""",u,,,,,,,',
  );
  assert.deepEqual(parseCsv(text).contacts, [contact]);
});

Deno.test("formatCsv() property: import gives every field back, export -> import -> export stable", () => {
  fc.assert(
    fc.property(fc.array(contacts(), { maxLength: 4 }), (list) => {
      const first = formatCsv(list);
      const result = parseCsv(first);
      assert.deepEqual(result.skipped, []);
      assert.deepEqual(result.warnings, []);
      assert.deepEqual(
        result.contacts,
        list.map((c, i) => ({ ...c, uid: c.uid || result.contacts[i]!.uid })),
      );
      assert.equal(formatCsv(result.contacts), first);
      assert.deepEqual(parseCsv(new TextEncoder().encode(first)), result);
    }),
    { numRuns: 200 },
  );
});
