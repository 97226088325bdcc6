//! The geocoder over the city's own address file (the AWS Location Service adapter would sit beside it).

use crate::ports::{Geocoder, PortResult};
use cityfix_domain::{AddressBook, Location, Lookup};

#[async_trait::async_trait]
impl Geocoder for AddressBook {
    async fn locate(&self, typed: &str) -> PortResult<Lookup> {
        Ok(AddressBook::locate(self, typed))
    }

    async fn nearest_address(&self, location: Location) -> PortResult<Option<(String, f64)>> {
        Ok(self.nearest(location))
    }
}
