//! The demo data set as plain tables: real cities with real ZIP codes, plausible theaters, well-known movies.
//!
//! Tables are kept one row per line (hence `#[rustfmt::skip]`) so that a reviewer can read and correct them like a
//! spreadsheet. Rows refer to their city by its slug (see [`City::slug`]); a unit test checks that every reference
//! resolves and that each ZIP and theater sits inside its city.

use time::Date;
use time::macros::date;

use crate::catalog::model::search_key;

/// Prices of one showtime in a city, in minor units of `currency`. Accessible and companion seats cost the same as a
/// standard seat: charging more (or less) for a wheelchair space would be discriminatory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prices {
    /// Price of a standard seat (also of accessible and companion seats).
    pub standard: i64,
    /// Price of a premium seat (the back rows).
    pub premium: i64,
    /// ISO 4217 code.
    pub currency: &'static str,
}

/// Most US cities.
pub(crate) const USD_BASE: Prices = Prices { standard: 1400, premium: 1900, currency: "USD" };
/// New York and San Francisco, where a ticket costs a bit more.
pub(crate) const USD_HIGH: Prices = Prices { standard: 1700, premium: 2300, currency: "USD" };
/// Canadian cities.
pub(crate) const CAD_BASE: Prices = Prices { standard: 1500, premium: 2000, currency: "CAD" };

/// A real city.
#[derive(Debug, Clone, Copy)]
pub(crate) struct City {
    /// Display name, with its accents (`Montréal`).
    pub name: &'static str,
    /// State or province code.
    pub state: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'static str,
    /// One of the regions inserted by the migration.
    pub region: &'static str,
    /// City-centre latitude, degrees.
    pub lat: f64,
    /// City-centre longitude, degrees.
    pub lon: f64,
    /// IANA time zone.
    pub time_zone: &'static str,
    /// What a showtime costs there.
    pub prices: Prices,
}

impl City {
    /// A stable, ASCII, URL-safe key of the city: its search name and state, e.g. `new-york-ny`, `montreal-qc`,
    /// `portland-or`. The state is part of it because a city name alone is ambiguous (Portland OR / Portland ME).
    pub(crate) fn slug(&self) -> String {
        slug(self.name, self.state)
    }
}

/// `search_key(name)` with every run of non-alphanumerics turned into one `-`, followed by the lower-case state.
pub(crate) fn slug(name: &str, state: &str) -> String {
    let mut out = String::new();
    for word in search_key(name).split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        out.push_str(word);
        out.push('-');
    }
    out.push_str(&state.to_ascii_lowercase());
    out
}

/// The demo cities: 22, over the three regions, including an accented name (Montréal) and an ambiguous one
/// (Portland, in Oregon and in Maine).
#[rustfmt::skip]
pub(crate) const CITIES: &[City] = &[
    // us-east
    City { name: "New York",      state: "NY", country: "US", region: "us-east",    lat: 40.7128, lon: -74.0060,  time_zone: "America/New_York",    prices: USD_HIGH },
    City { name: "Boston",        state: "MA", country: "US", region: "us-east",    lat: 42.3601, lon: -71.0589,  time_zone: "America/New_York",    prices: USD_BASE },
    City { name: "Philadelphia",  state: "PA", country: "US", region: "us-east",    lat: 39.9526, lon: -75.1652,  time_zone: "America/New_York",    prices: USD_BASE },
    City { name: "Washington",    state: "DC", country: "US", region: "us-east",    lat: 38.9072, lon: -77.0369,  time_zone: "America/New_York",    prices: USD_BASE },
    City { name: "Atlanta",       state: "GA", country: "US", region: "us-east",    lat: 33.7490, lon: -84.3880,  time_zone: "America/New_York",    prices: USD_BASE },
    City { name: "Miami",         state: "FL", country: "US", region: "us-east",    lat: 25.7617, lon: -80.1918,  time_zone: "America/New_York",    prices: USD_BASE },
    City { name: "Montréal",      state: "QC", country: "CA", region: "us-east",    lat: 45.5019, lon: -73.5674,  time_zone: "America/Toronto",     prices: CAD_BASE },
    City { name: "Portland",      state: "ME", country: "US", region: "us-east",    lat: 43.6591, lon: -70.2568,  time_zone: "America/New_York",    prices: USD_BASE },
    // us-central
    City { name: "Chicago",       state: "IL", country: "US", region: "us-central", lat: 41.8781, lon: -87.6298,  time_zone: "America/Chicago",     prices: USD_BASE },
    City { name: "Dallas",        state: "TX", country: "US", region: "us-central", lat: 32.7767, lon: -96.7970,  time_zone: "America/Chicago",     prices: USD_BASE },
    City { name: "Houston",       state: "TX", country: "US", region: "us-central", lat: 29.7604, lon: -95.3698,  time_zone: "America/Chicago",     prices: USD_BASE },
    City { name: "Austin",        state: "TX", country: "US", region: "us-central", lat: 30.2672, lon: -97.7431,  time_zone: "America/Chicago",     prices: USD_BASE },
    City { name: "Denver",        state: "CO", country: "US", region: "us-central", lat: 39.7392, lon: -104.9903, time_zone: "America/Denver",      prices: USD_BASE },
    City { name: "Minneapolis",   state: "MN", country: "US", region: "us-central", lat: 44.9778, lon: -93.2650,  time_zone: "America/Chicago",     prices: USD_BASE },
    City { name: "St. Louis",     state: "MO", country: "US", region: "us-central", lat: 38.6270, lon: -90.1994,  time_zone: "America/Chicago",     prices: USD_BASE },
    // us-west
    City { name: "Los Angeles",   state: "CA", country: "US", region: "us-west",    lat: 34.0522, lon: -118.2437, time_zone: "America/Los_Angeles", prices: USD_BASE },
    City { name: "San Francisco", state: "CA", country: "US", region: "us-west",    lat: 37.7749, lon: -122.4194, time_zone: "America/Los_Angeles", prices: USD_HIGH },
    City { name: "Seattle",       state: "WA", country: "US", region: "us-west",    lat: 47.6062, lon: -122.3321, time_zone: "America/Los_Angeles", prices: USD_BASE },
    City { name: "Portland",      state: "OR", country: "US", region: "us-west",    lat: 45.5152, lon: -122.6784, time_zone: "America/Los_Angeles", prices: USD_BASE },
    City { name: "San Diego",     state: "CA", country: "US", region: "us-west",    lat: 32.7157, lon: -117.1611, time_zone: "America/Los_Angeles", prices: USD_BASE },
    City { name: "Phoenix",       state: "AZ", country: "US", region: "us-west",    lat: 33.4484, lon: -112.0740, time_zone: "America/Phoenix",     prices: USD_BASE },
    City { name: "Las Vegas",     state: "NV", country: "US", region: "us-west",    lat: 36.1699, lon: -115.1398, time_zone: "America/Los_Angeles", prices: USD_BASE },
];

/// A real ZIP code (a Canadian forward sortation area for Montréal) with the approximate centroid of its area.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Zip {
    /// Slug of the city it belongs to.
    pub city: &'static str,
    /// The code as people type it.
    pub zip: &'static str,
    /// Centroid latitude, degrees.
    pub lat: f64,
    /// Centroid longitude, degrees.
    pub lon: f64,
}

/// 2–4 ZIP codes per demo city.
#[rustfmt::skip]
pub(crate) const ZIPS: &[Zip] = &[
    Zip { city: "new-york-ny",      zip: "10036", lat: 40.7602, lon: -73.9932 },
    Zip { city: "new-york-ny",      zip: "10003", lat: 40.7317, lon: -73.9893 },
    Zip { city: "new-york-ny",      zip: "10023", lat: 40.7764, lon: -73.9827 },
    Zip { city: "new-york-ny",      zip: "10002", lat: 40.7157, lon: -73.9863 },
    Zip { city: "boston-ma",        zip: "02116", lat: 42.3496, lon: -71.0765 },
    Zip { city: "boston-ma",        zip: "02115", lat: 42.3427, lon: -71.0922 },
    Zip { city: "boston-ma",        zip: "02108", lat: 42.3576, lon: -71.0636 },
    Zip { city: "boston-ma",        zip: "02134", lat: 42.3565, lon: -71.1300 },
    Zip { city: "philadelphia-pa",  zip: "19103", lat: 39.9525, lon: -75.1741 },
    Zip { city: "philadelphia-pa",  zip: "19107", lat: 39.9510, lon: -75.1586 },
    Zip { city: "philadelphia-pa",  zip: "19104", lat: 39.9595, lon: -75.1968 },
    Zip { city: "philadelphia-pa",  zip: "19147", lat: 39.9362, lon: -75.1540 },
    Zip { city: "washington-dc",    zip: "20001", lat: 38.9120, lon: -77.0176 },
    Zip { city: "washington-dc",    zip: "20009", lat: 38.9198, lon: -77.0375 },
    Zip { city: "washington-dc",    zip: "20002", lat: 38.9052, lon: -76.9830 },
    Zip { city: "washington-dc",    zip: "20016", lat: 38.9381, lon: -77.0904 },
    Zip { city: "atlanta-ga",       zip: "30303", lat: 33.7525, lon: -84.3915 },
    Zip { city: "atlanta-ga",       zip: "30309", lat: 33.7988, lon: -84.3860 },
    Zip { city: "atlanta-ga",       zip: "30307", lat: 33.7690, lon: -84.3360 },
    Zip { city: "atlanta-ga",       zip: "30326", lat: 33.8490, lon: -84.3580 },
    Zip { city: "miami-fl",         zip: "33131", lat: 25.7669, lon: -80.1892 },
    Zip { city: "miami-fl",         zip: "33130", lat: 25.7673, lon: -80.2048 },
    Zip { city: "miami-fl",         zip: "33137", lat: 25.8155, lon: -80.1836 },
    Zip { city: "miami-fl",         zip: "33133", lat: 25.7294, lon: -80.2420 },
    Zip { city: "montreal-qc",      zip: "H2X",   lat: 45.5130, lon: -73.5650 },
    Zip { city: "montreal-qc",      zip: "H3B",   lat: 45.5010, lon: -73.5680 },
    Zip { city: "montreal-qc",      zip: "H2T",   lat: 45.5230, lon: -73.5880 },
    Zip { city: "montreal-qc",      zip: "H3G",   lat: 45.4970, lon: -73.5790 },
    Zip { city: "portland-me",      zip: "04101", lat: 43.6612, lon: -70.2586 },
    Zip { city: "portland-me",      zip: "04102", lat: 43.6600, lon: -70.2950 },
    Zip { city: "portland-me",      zip: "04103", lat: 43.6900, lon: -70.2900 },
    Zip { city: "chicago-il",       zip: "60601", lat: 41.8858, lon: -87.6181 },
    Zip { city: "chicago-il",       zip: "60611", lat: 41.8947, lon: -87.6205 },
    Zip { city: "chicago-il",       zip: "60614", lat: 41.9227, lon: -87.6533 },
    Zip { city: "chicago-il",       zip: "60607", lat: 41.8746, lon: -87.6512 },
    Zip { city: "dallas-tx",        zip: "75201", lat: 32.7883, lon: -96.7992 },
    Zip { city: "dallas-tx",        zip: "75204", lat: 32.8024, lon: -96.7862 },
    Zip { city: "dallas-tx",        zip: "75206", lat: 32.8310, lon: -96.7695 },
    Zip { city: "dallas-tx",        zip: "75225", lat: 32.8630, lon: -96.7906 },
    Zip { city: "houston-tx",       zip: "77002", lat: 29.7565, lon: -95.3651 },
    Zip { city: "houston-tx",       zip: "77006", lat: 29.7409, lon: -95.3915 },
    Zip { city: "houston-tx",       zip: "77056", lat: 29.7457, lon: -95.4687 },
    Zip { city: "houston-tx",       zip: "77008", lat: 29.7990, lon: -95.4103 },
    Zip { city: "austin-tx",        zip: "78701", lat: 30.2711, lon: -97.7437 },
    Zip { city: "austin-tx",        zip: "78704", lat: 30.2429, lon: -97.7658 },
    Zip { city: "austin-tx",        zip: "78705", lat: 30.2920, lon: -97.7397 },
    Zip { city: "denver-co",        zip: "80202", lat: 39.7519, lon: -104.9963 },
    Zip { city: "denver-co",        zip: "80203", lat: 39.7313, lon: -104.9827 },
    Zip { city: "denver-co",        zip: "80206", lat: 39.7306, lon: -104.9519 },
    Zip { city: "denver-co",        zip: "80211", lat: 39.7665, lon: -105.0202 },
    Zip { city: "minneapolis-mn",   zip: "55401", lat: 44.9849, lon: -93.2696 },
    Zip { city: "minneapolis-mn",   zip: "55403", lat: 44.9702, lon: -93.2852 },
    Zip { city: "minneapolis-mn",   zip: "55408", lat: 44.9466, lon: -93.2865 },
    Zip { city: "minneapolis-mn",   zip: "55414", lat: 44.9782, lon: -93.2241 },
    Zip { city: "st-louis-mo",      zip: "63101", lat: 38.6317, lon: -90.1926 },
    Zip { city: "st-louis-mo",      zip: "63108", lat: 38.6445, lon: -90.2526 },
    Zip { city: "st-louis-mo",      zip: "63110", lat: 38.6258, lon: -90.2655 },
    Zip { city: "st-louis-mo",      zip: "63104", lat: 38.6102, lon: -90.2140 },
    Zip { city: "los-angeles-ca",   zip: "90028", lat: 34.0998, lon: -118.3267 },
    Zip { city: "los-angeles-ca",   zip: "90012", lat: 34.0614, lon: -118.2385 },
    Zip { city: "los-angeles-ca",   zip: "90036", lat: 34.0699, lon: -118.3493 },
    Zip { city: "los-angeles-ca",   zip: "90024", lat: 34.0633, lon: -118.4357 },
    Zip { city: "san-francisco-ca", zip: "94103", lat: 37.7725, lon: -122.4147 },
    Zip { city: "san-francisco-ca", zip: "94102", lat: 37.7793, lon: -122.4193 },
    Zip { city: "san-francisco-ca", zip: "94110", lat: 37.7503, lon: -122.4153 },
    Zip { city: "san-francisco-ca", zip: "94123", lat: 37.8003, lon: -122.4368 },
    Zip { city: "seattle-wa",       zip: "98101", lat: 47.6110, lon: -122.3356 },
    Zip { city: "seattle-wa",       zip: "98109", lat: 47.6302, lon: -122.3480 },
    Zip { city: "seattle-wa",       zip: "98122", lat: 47.6116, lon: -122.3050 },
    Zip { city: "seattle-wa",       zip: "98105", lat: 47.6613, lon: -122.2997 },
    Zip { city: "portland-or",      zip: "97205", lat: 45.5206, lon: -122.6889 },
    Zip { city: "portland-or",      zip: "97209", lat: 45.5293, lon: -122.6836 },
    Zip { city: "portland-or",      zip: "97214", lat: 45.5142, lon: -122.6425 },
    Zip { city: "portland-or",      zip: "97232", lat: 45.5289, lon: -122.6447 },
    Zip { city: "san-diego-ca",     zip: "92101", lat: 32.7195, lon: -117.1628 },
    Zip { city: "san-diego-ca",     zip: "92103", lat: 32.7469, lon: -117.1674 },
    Zip { city: "san-diego-ca",     zip: "92108", lat: 32.7742, lon: -117.1425 },
    Zip { city: "san-diego-ca",     zip: "92122", lat: 32.8577, lon: -117.2107 },
    Zip { city: "phoenix-az",       zip: "85004", lat: 33.4515, lon: -112.0706 },
    Zip { city: "phoenix-az",       zip: "85012", lat: 33.5087, lon: -112.0698 },
    Zip { city: "phoenix-az",       zip: "85016", lat: 33.5072, lon: -112.0311 },
    Zip { city: "phoenix-az",       zip: "85008", lat: 33.4664, lon: -111.9982 },
    Zip { city: "las-vegas-nv",     zip: "89109", lat: 36.1263, lon: -115.1653 },
    Zip { city: "las-vegas-nv",     zip: "89101", lat: 36.1724, lon: -115.1225 },
    Zip { city: "las-vegas-nv",     zip: "89117", lat: 36.1430, lon: -115.2806 },
    Zip { city: "las-vegas-nv",     zip: "89135", lat: 36.1060, lon: -115.3195 },
];

/// A demo theater. Its number within its city (1, 2, ..) is its position among that city's rows: it is part of the
/// theater's natural key, so rows are only ever appended to a city, never reordered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Theater {
    /// Slug of its city.
    pub city: &'static str,
    /// One of its city's ZIP codes; the theater is placed near that ZIP's centroid.
    pub zip: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Street address (without city, state and ZIP, which have their own columns).
    pub address: &'static str,
}

/// 66 theaters, 2–4 per city. Names are invented; streets are real streets of the ZIP area.
#[rustfmt::skip]
pub(crate) const THEATERS: &[Theater] = &[
    Theater { city: "new-york-ny",      zip: "10036", name: "Times Square Cinemas 12",          address: "234 W 42nd St" },
    Theater { city: "new-york-ny",      zip: "10003", name: "Union Square Picture House",       address: "850 Broadway" },
    Theater { city: "new-york-ny",      zip: "10023", name: "Lincoln Square Cinema",            address: "1998 Broadway" },
    Theater { city: "new-york-ny",      zip: "10002", name: "Lower East Side Film Center",      address: "143 E Houston St" },
    Theater { city: "boston-ma",        zip: "02116", name: "Back Bay Cinema",                  address: "100 Huntington Ave" },
    Theater { city: "boston-ma",        zip: "02115", name: "Fenway Screens",                   address: "201 Brookline Ave" },
    Theater { city: "boston-ma",        zip: "02134", name: "Allston Film House",               address: "180 Harvard Ave" },
    Theater { city: "philadelphia-pa",  zip: "19103", name: "Rittenhouse Cinema",               address: "1600 Walnut St" },
    Theater { city: "philadelphia-pa",  zip: "19107", name: "Market East Movies",               address: "1001 Market St" },
    Theater { city: "philadelphia-pa",  zip: "19104", name: "University City Screens",          address: "4012 Walnut St" },
    Theater { city: "washington-dc",    zip: "20001", name: "Shaw Picture Palace",              address: "1100 7th St NW" },
    Theater { city: "washington-dc",    zip: "20009", name: "Adams Morgan Cinema",              address: "2400 18th St NW" },
    Theater { city: "washington-dc",    zip: "20002", name: "Capitol Hill Screens",             address: "400 H St NE" },
    Theater { city: "atlanta-ga",       zip: "30303", name: "Downtown Atlanta Cinemas",         address: "50 Peachtree St NW" },
    Theater { city: "atlanta-ga",       zip: "30309", name: "Midtown Art Cinema",               address: "1100 Peachtree St NE" },
    Theater { city: "atlanta-ga",       zip: "30307", name: "Little Five Points Picture House", address: "1150 Euclid Ave NE" },
    Theater { city: "miami-fl",         zip: "33131", name: "Brickell City Cinema",             address: "701 S Miami Ave" },
    Theater { city: "miami-fl",         zip: "33130", name: "Little Havana Screens",            address: "800 SW 8th St" },
    Theater { city: "miami-fl",         zip: "33137", name: "Design District Cinema",           address: "140 NE 39th St" },
    Theater { city: "miami-fl",         zip: "33133", name: "Coconut Grove Movies",             address: "3015 Grand Ave" },
    Theater { city: "montreal-qc",      zip: "H2X",   name: "Cinéma du Quartier Latin",         address: "350 rue Émery" },
    Theater { city: "montreal-qc",      zip: "H3B",   name: "Cinéma Centre-Ville",              address: "705 rue Sainte-Catherine Ouest" },
    Theater { city: "montreal-qc",      zip: "H2T",   name: "Cinéma Mile End",                  address: "5265 boulevard Saint-Laurent" },
    Theater { city: "portland-me",      zip: "04101", name: "Old Port Cinema",                  address: "10 Exchange St" },
    Theater { city: "portland-me",      zip: "04103", name: "Deering Picture House",            address: "650 Forest Ave" },
    Theater { city: "chicago-il",       zip: "60601", name: "Loop Cinema 14",                   address: "175 N State St" },
    Theater { city: "chicago-il",       zip: "60611", name: "Magnificent Mile Theatre",         address: "600 N Michigan Ave" },
    Theater { city: "chicago-il",       zip: "60614", name: "Lincoln Park Screens",             address: "2300 N Lincoln Ave" },
    Theater { city: "chicago-il",       zip: "60607", name: "West Loop Picture House",          address: "1000 W Randolph St" },
    Theater { city: "dallas-tx",        zip: "75201", name: "Arts District Cinema",             address: "2200 Flora St" },
    Theater { city: "dallas-tx",        zip: "75204", name: "Uptown Dallas Screens",            address: "3699 McKinney Ave" },
    Theater { city: "dallas-tx",        zip: "75225", name: "Preston Hollow Cinema",            address: "8200 Preston Rd" },
    Theater { city: "houston-tx",       zip: "77002", name: "Downtown Houston Cinemas",         address: "510 Texas Ave" },
    Theater { city: "houston-tx",       zip: "77006", name: "Montrose Picture House",           address: "1600 Westheimer Rd" },
    Theater { city: "houston-tx",       zip: "77056", name: "Galleria Cinema 16",               address: "5085 Westheimer Rd" },
    Theater { city: "houston-tx",       zip: "77008", name: "Heights Film House",               address: "2000 Yale St" },
    Theater { city: "austin-tx",        zip: "78701", name: "Congress Avenue Cinema",           address: "713 Congress Ave" },
    Theater { city: "austin-tx",        zip: "78704", name: "South Lamar Screens",              address: "1120 S Lamar Blvd" },
    Theater { city: "denver-co",        zip: "80202", name: "LoDo Cinemas",                     address: "1600 Wynkoop St" },
    Theater { city: "denver-co",        zip: "80203", name: "Capitol Hill Film House",          address: "1300 Pennsylvania St" },
    Theater { city: "denver-co",        zip: "80206", name: "Cherry Creek Cinema",              address: "3000 E 1st Ave" },
    Theater { city: "minneapolis-mn",   zip: "55401", name: "North Loop Cinema",                address: "700 Washington Ave N" },
    Theater { city: "minneapolis-mn",   zip: "55408", name: "Uptown Picture House",             address: "2906 Hennepin Ave" },
    Theater { city: "st-louis-mo",      zip: "63101", name: "Downtown St. Louis Cinema",        address: "901 Washington Ave" },
    Theater { city: "st-louis-mo",      zip: "63108", name: "Central West End Screens",         address: "4701 McPherson Ave" },
    Theater { city: "los-angeles-ca",   zip: "90028", name: "Hollywood Boulevard Cinemas",      address: "6801 Hollywood Blvd" },
    Theater { city: "los-angeles-ca",   zip: "90012", name: "Little Tokyo Cinema",              address: "321 E 2nd St" },
    Theater { city: "los-angeles-ca",   zip: "90036", name: "Miracle Mile Cinema",              address: "5900 Wilshire Blvd" },
    Theater { city: "los-angeles-ca",   zip: "90024", name: "Westwood Village Theatre",         address: "961 Broxton Ave" },
    Theater { city: "san-francisco-ca", zip: "94103", name: "SoMa Cinema 14",                   address: "835 Mission St" },
    Theater { city: "san-francisco-ca", zip: "94102", name: "Hayes Valley Cinema",              address: "400 Hayes St" },
    Theater { city: "san-francisco-ca", zip: "94110", name: "Mission District Picture House",   address: "2550 Mission St" },
    Theater { city: "san-francisco-ca", zip: "94123", name: "Marina Cinema",                    address: "2100 Chestnut St" },
    Theater { city: "seattle-wa",       zip: "98101", name: "Pike Street Cinemas",              address: "1501 7th Ave" },
    Theater { city: "seattle-wa",       zip: "98109", name: "Seattle Center Screens",           address: "305 Harrison St" },
    Theater { city: "seattle-wa",       zip: "98122", name: "Capitol Hill Picture House",       address: "1500 E Pine St" },
    Theater { city: "portland-or",      zip: "97205", name: "Park Blocks Cinema",               address: "1219 SW Park Ave" },
    Theater { city: "portland-or",      zip: "97232", name: "Lloyd Center Cinemas",             address: "1510 NE Multnomah St" },
    Theater { city: "san-diego-ca",     zip: "92101", name: "Gaslamp Cinema",                   address: "701 Fifth Ave" },
    Theater { city: "san-diego-ca",     zip: "92103", name: "Hillcrest Picture House",          address: "3965 Fifth Ave" },
    Theater { city: "san-diego-ca",     zip: "92108", name: "Mission Valley Screens",           address: "7510 Hazard Center Dr" },
    Theater { city: "phoenix-az",       zip: "85004", name: "Roosevelt Row Cinema",             address: "1000 N 1st St" },
    Theater { city: "phoenix-az",       zip: "85016", name: "Biltmore Cinemas",                 address: "2502 E Camelback Rd" },
    Theater { city: "las-vegas-nv",     zip: "89109", name: "Strip Cinema 10",                  address: "3500 S Las Vegas Blvd" },
    Theater { city: "las-vegas-nv",     zip: "89101", name: "Fremont Street Picture House",     address: "450 Fremont St" },
    Theater { city: "las-vegas-nv",     zip: "89135", name: "Summerlin Screens",                address: "1980 Festival Plaza Dr" },
];

/// A real movie.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Movie {
    /// Title as released in the US (accents kept: `Amélie`).
    pub title: &'static str,
    /// Running time, minutes.
    pub duration_min: u16,
    /// Main genre.
    pub genre: &'static str,
    /// MPA rating.
    pub rating: &'static str,
    /// First release date.
    pub release_date: Date,
    /// One line for the listing.
    pub description: &'static str,
}

/// 40 well-known movies of every era and genre. Titanic (194 min) is the longest: the showtime slot generator is
/// tested against it.
#[rustfmt::skip]
pub(crate) const MOVIES: &[Movie] = &[
    Movie { title: "The Shawshank Redemption",  duration_min: 142, genre: "Drama",           rating: "R",     release_date: date!(1994-09-23), description: "A banker sentenced to life in prison finds hope and friendship over two decades." },
    Movie { title: "The Godfather",             duration_min: 175, genre: "Crime",           rating: "R",     release_date: date!(1972-03-24), description: "The aging patriarch of a crime dynasty hands control to his reluctant youngest son." },
    Movie { title: "The Dark Knight",           duration_min: 152, genre: "Action",          rating: "PG-13", release_date: date!(2008-07-18), description: "Batman faces the Joker, a criminal mastermind who wants to watch Gotham burn." },
    Movie { title: "Pulp Fiction",              duration_min: 154, genre: "Crime",           rating: "R",     release_date: date!(1994-10-14), description: "Hitmen, a boxer and a gangster's wife cross paths in four tales of Los Angeles crime." },
    Movie { title: "Forrest Gump",              duration_min: 142, genre: "Drama",           rating: "PG-13", release_date: date!(1994-07-06), description: "A kind-hearted Alabama man witnesses and shapes decades of American history." },
    Movie { title: "Inception",                 duration_min: 148, genre: "Science Fiction", rating: "PG-13", release_date: date!(2010-07-16), description: "A thief who steals secrets through dreams is asked to plant an idea instead." },
    Movie { title: "The Matrix",                duration_min: 136, genre: "Science Fiction", rating: "R",     release_date: date!(1999-03-31), description: "A hacker learns that the world he knows is a simulation and joins the rebellion." },
    Movie { title: "Jurassic Park",             duration_min: 127, genre: "Adventure",       rating: "PG-13", release_date: date!(1993-06-11), description: "Cloned dinosaurs escape in a theme park built on a remote island." },
    Movie { title: "Titanic",                   duration_min: 194, genre: "Romance",         rating: "PG-13", release_date: date!(1997-12-19), description: "A young aristocrat and a penniless artist fall in love aboard the doomed liner." },
    Movie { title: "Toy Story",                 duration_min: 81,  genre: "Animation",       rating: "G",     release_date: date!(1995-11-22), description: "A cowboy doll feels threatened when a space ranger becomes his owner's favorite toy." },
    Movie { title: "The Lion King",             duration_min: 88,  genre: "Animation",       rating: "G",     release_date: date!(1994-06-24), description: "A lion cub flees his kingdom after his father's death and must return to claim it." },
    Movie { title: "Spirited Away",             duration_min: 125, genre: "Animation",       rating: "PG",    release_date: date!(2001-07-20), description: "A girl trapped in a world of spirits works in a bathhouse to free her parents." },
    Movie { title: "Back to the Future",        duration_min: 116, genre: "Science Fiction", rating: "PG",    release_date: date!(1985-07-03), description: "A teenager sent thirty years into the past must make sure his parents fall in love." },
    Movie { title: "Raiders of the Lost Ark",   duration_min: 115, genre: "Adventure",       rating: "PG",    release_date: date!(1981-06-12), description: "Archaeologist Indiana Jones races the Nazis to find the Ark of the Covenant." },
    Movie { title: "Star Wars",                 duration_min: 121, genre: "Science Fiction", rating: "PG",    release_date: date!(1977-05-25), description: "A farm boy joins a princess, a smuggler and an old knight against the Empire." },
    Movie { title: "E.T. the Extra-Terrestrial", duration_min: 115, genre: "Family",         rating: "PG",    release_date: date!(1982-06-11), description: "A lonely boy befriends a stranded alien and helps him get home." },
    Movie { title: "Jaws",                      duration_min: 124, genre: "Thriller",        rating: "PG",    release_date: date!(1975-06-20), description: "A police chief, a scientist and a fisherman hunt a great white shark." },
    Movie { title: "Casablanca",                duration_min: 102, genre: "Romance",         rating: "PG",    release_date: date!(1942-11-26), description: "A nightclub owner in wartime Morocco meets the woman who left him in Paris." },
    Movie { title: "Singin' in the Rain",       duration_min: 103, genre: "Musical",         rating: "G",     release_date: date!(1952-03-27), description: "Hollywood stars stumble through the move from silent films to talkies." },
    Movie { title: "The Silence of the Lambs",  duration_min: 118, genre: "Thriller",        rating: "R",     release_date: date!(1991-02-14), description: "An FBI trainee seeks the help of an imprisoned cannibal to catch a serial killer." },
    Movie { title: "Alien",                     duration_min: 117, genre: "Horror",          rating: "R",     release_date: date!(1979-05-25), description: "The crew of a commercial spaceship is stalked by a deadly creature." },
    Movie { title: "Goodfellas",                duration_min: 145, genre: "Crime",           rating: "R",     release_date: date!(1990-09-21), description: "The rise and fall of a mob associate over three decades in New York." },
    Movie { title: "Spider-Man: Into the Spider-Verse", duration_min: 117, genre: "Animation", rating: "PG", release_date: date!(2018-12-14), description: "Brooklyn teen Miles Morales meets Spider-People from other dimensions." },
    Movie { title: "Parasite",                  duration_min: 132, genre: "Thriller",        rating: "R",     release_date: date!(2019-05-30), description: "A poor family schemes its way into the household of a wealthy one." },
    Movie { title: "Mad Max: Fury Road",        duration_min: 120, genre: "Action",          rating: "R",     release_date: date!(2015-05-15), description: "A drifter and a rebel warrior flee a tyrant across a post-apocalyptic desert." },
    Movie { title: "Get Out",                   duration_min: 104, genre: "Horror",          rating: "R",     release_date: date!(2017-02-24), description: "A young man's visit to his girlfriend's family estate turns sinister." },
    Movie { title: "La La Land",                duration_min: 128, genre: "Musical",         rating: "PG-13", release_date: date!(2016-12-09), description: "A jazz pianist and an aspiring actress fall in love in Los Angeles." },
    Movie { title: "Finding Nemo",              duration_min: 100, genre: "Animation",       rating: "G",     release_date: date!(2003-05-30), description: "A timid clownfish crosses the ocean to find his captured son." },
    Movie { title: "The Princess Bride",        duration_min: 98,  genre: "Comedy",          rating: "PG",    release_date: date!(1987-09-25), description: "A farmhand turned pirate sets out to rescue his true love from a scheming prince." },
    Movie { title: "Groundhog Day",             duration_min: 101, genre: "Comedy",          rating: "PG",    release_date: date!(1993-02-12), description: "A cynical weatherman relives the same day in a small town, again and again." },
    Movie { title: "Amélie",                    duration_min: 122, genre: "Comedy",          rating: "R",     release_date: date!(2001-04-25), description: "A shy Paris waitress secretly arranges small joys in the lives of others." },
    Movie { title: "The Lord of the Rings: The Fellowship of the Ring", duration_min: 178, genre: "Fantasy", rating: "PG-13", release_date: date!(2001-12-19), description: "A hobbit sets out with eight companions to destroy a ring of terrible power." },
    Movie { title: "Interstellar",              duration_min: 169, genre: "Science Fiction", rating: "PG-13", release_date: date!(2014-11-07), description: "Astronauts travel through a wormhole to find a new home for humanity." },
    Movie { title: "Ghostbusters",              duration_min: 105, genre: "Comedy",          rating: "PG",    release_date: date!(1984-06-08), description: "Three parapsychologists start a ghost-removal business in New York City." },
    Movie { title: "Top Gun: Maverick",         duration_min: 130, genre: "Action",          rating: "PG-13", release_date: date!(2022-05-27), description: "A veteran navy pilot trains young aviators for a near-impossible mission." },
    Movie { title: "Coco",                      duration_min: 105, genre: "Animation",       rating: "PG",    release_date: date!(2017-11-22), description: "A boy who dreams of music journeys into the Land of the Dead." },
    Movie { title: "The Shining",               duration_min: 146, genre: "Horror",          rating: "R",     release_date: date!(1980-05-23), description: "A writer wintering at an isolated hotel with his family descends into madness." },
    Movie { title: "Oppenheimer",               duration_min: 180, genre: "Drama",           rating: "R",     release_date: date!(2023-07-21), description: "The physicist who led the Manhattan Project lives with what he made." },
    Movie { title: "Barbie",                    duration_min: 114, genre: "Comedy",          rating: "PG-13", release_date: date!(2023-07-21), description: "A doll leaves her perfect world for the real one and discovers who she is." },
    Movie { title: "Everything Everywhere All at Once", duration_min: 139, genre: "Science Fiction", rating: "R", release_date: date!(2022-03-25), description: "A laundromat owner must connect with parallel versions of herself to save the multiverse." },
];

/// The three regions inserted by the migration, in a fixed order (the scale seed deals theaters over them).
pub(crate) const REGIONS: [&str; 3] = ["us-east", "us-central", "us-west"];

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    /// Great-circle distance, km.
    fn km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let dp = p2 - p1;
        let dl = (lon2 - lon1).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().asin()
    }

    #[test]
    fn there_are_twenty_cities_or_more_in_every_region() {
        assert!(CITIES.len() >= 20);
        for region in REGIONS {
            let n = CITIES.iter().filter(|c| c.region == region).count();
            assert!(n >= 5, "{region} has {n} cities");
        }
        assert!(CITIES.iter().all(|c| REGIONS.contains(&c.region)));
    }

    #[test]
    fn city_rows_are_plausible() {
        let zones = [
            "America/New_York",
            "America/Toronto",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
        ];
        for c in CITIES {
            assert!(
                (24.0..50.0).contains(&c.lat) && (-125.0..-66.0).contains(&c.lon),
                "{} is not in North America",
                c.name
            );
            assert!(zones.contains(&c.time_zone), "{}: unexpected zone {}", c.name, c.time_zone);
            assert_eq!(c.state.len(), 2);
            assert!(["US", "CA"].contains(&c.country));
            assert_eq!(c.prices.currency, if c.country == "CA" { "CAD" } else { "USD" }, "{}", c.name);
            assert!(c.prices.premium > c.prices.standard);
        }
    }

    #[test]
    fn city_slugs_and_search_names_are_unique_and_ascii() {
        let slugs: HashSet<String> = CITIES.iter().map(City::slug).collect();
        assert_eq!(slugs.len(), CITIES.len());
        assert!(slugs.iter().all(|s| { s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') }));
        let keys: HashSet<(String, &str, &str)> =
            CITIES.iter().map(|c| (search_key(c.name), c.state, c.country)).collect();
        assert_eq!(keys.len(), CITIES.len(), "cities_search_name_state_country_key would be violated");
    }

    #[test]
    fn an_accented_and_an_ambiguous_city_are_present() {
        assert!(CITIES.iter().any(|c| c.name == "Montréal" && search_key(c.name) == "montreal"));
        let portlands: Vec<_> = CITIES.iter().filter(|c| c.name == "Portland").collect();
        assert_eq!(portlands.len(), 2);
        assert_ne!(portlands[0].region, portlands[1].region);
    }

    #[test]
    fn slug_folds_accents_punctuation_and_adds_the_state() {
        assert_eq!(slug("Montréal", "QC"), "montreal-qc");
        assert_eq!(slug("St. Louis", "MO"), "st-louis-mo");
        assert_eq!(slug("New York", "NY"), "new-york-ny");
    }

    #[test]
    fn every_city_has_two_to_four_real_looking_zips_near_it() {
        let cities: HashMap<String, &City> = CITIES.iter().map(|c| (c.slug(), c)).collect();
        // First digits of the ZIP codes of each state (USPS allocation).
        let prefixes: HashMap<&str, &[&str]> = HashMap::from([
            ("NY", &["10", "11", "12", "13", "14"][..]),
            ("MA", &["01", "02"][..]),
            ("PA", &["15", "16", "17", "18", "19"][..]),
            ("DC", &["20"][..]),
            ("GA", &["30", "31"][..]),
            ("FL", &["32", "33", "34"][..]),
            ("ME", &["03", "04"][..]),
            ("IL", &["60", "61", "62"][..]),
            ("TX", &["75", "76", "77", "78", "79"][..]),
            ("CO", &["80", "81"][..]),
            ("MN", &["55", "56"][..]),
            ("MO", &["63", "64", "65"][..]),
            ("CA", &["90", "91", "92", "93", "94", "95", "96"][..]),
            ("WA", &["98", "99"][..]),
            ("OR", &["97"][..]),
            ("AZ", &["85", "86"][..]),
            ("NV", &["88", "89"][..]),
        ]);
        let mut per_city: HashMap<&str, usize> = HashMap::new();
        let mut seen = HashSet::new();
        for z in ZIPS {
            let city = cities.get(z.city).unwrap_or_else(|| panic!("ZIP {} names unknown city {}", z.zip, z.city));
            assert!(seen.insert((city.country, z.zip)), "duplicate ZIP {}", z.zip);
            *per_city.entry(z.city).or_default() += 1;
            if city.country == "US" {
                assert!(z.zip.len() == 5 && z.zip.bytes().all(|b| b.is_ascii_digit()), "{}", z.zip);
                assert!(prefixes[city.state].contains(&&z.zip[..2]), "{} is not a {} ZIP", z.zip, city.state);
            } else {
                // A Canadian forward sortation area: letter, digit, letter; H is Montréal.
                let b = z.zip.as_bytes();
                assert!(
                    b.len() == 3 && b[0] == b'H' && b[1].is_ascii_digit() && b[2].is_ascii_uppercase(),
                    "{}",
                    z.zip
                );
            }
            let d = km(city.lat, city.lon, z.lat, z.lon);
            assert!(d < 25.0, "ZIP {} is {d:.1} km from {}", z.zip, city.name);
        }
        for c in CITIES {
            let n = per_city.get(c.slug().as_str()).copied().unwrap_or(0);
            assert!((2..=4).contains(&n), "{} has {n} ZIPs", c.name);
        }
    }

    #[test]
    fn every_city_has_two_to_four_theaters_in_its_own_zips() {
        assert!((55..=70).contains(&THEATERS.len()));
        let zips: HashMap<&str, &Zip> = ZIPS.iter().map(|z| (z.zip, z)).collect();
        let mut per_city: HashMap<&str, usize> = HashMap::new();
        for t in THEATERS {
            let zip = zips.get(t.zip).unwrap_or_else(|| panic!("{} has unknown ZIP {}", t.name, t.zip));
            assert_eq!(zip.city, t.city, "{} is in a ZIP of another city", t.name);
            assert!(!t.name.is_empty() && !t.address.is_empty());
            *per_city.entry(t.city).or_default() += 1;
        }
        for c in CITIES {
            let n = per_city.get(c.slug().as_str()).copied().unwrap_or(0);
            assert!((2..=4).contains(&n), "{} has {n} theaters", c.name);
        }
    }

    #[test]
    fn there_are_thirty_movies_or_more_with_valid_fields() {
        assert!(MOVIES.len() >= 30);
        let mut titles = HashSet::new();
        for m in MOVIES {
            assert!(titles.insert(search_key(m.title)), "duplicate {}", m.title);
            assert!((60..=200).contains(&m.duration_min), "{}", m.title);
            assert!(["G", "PG", "PG-13", "R", "NC-17", "NR"].contains(&m.rating), "{}", m.title);
            assert!(!m.genre.is_empty() && !m.description.is_empty());
            assert!(m.release_date.year() >= 1900 && m.release_date.year() <= 2030);
        }
        assert!(MOVIES.iter().any(|m| search_key(m.title) != m.title.to_lowercase()), "an accented title is expected");
    }
}
