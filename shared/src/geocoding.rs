//! The geocoder over the city's own address file (the AWS Location Service adapter would sit beside it).

use crate::domain::{AddressBook, Location, Lookup};
use crate::ports::{Geocoder, PortResult};

#[async_trait::async_trait]
impl Geocoder for AddressBook {
    async fn locate(&self, typed: &str) -> PortResult<Lookup> {
        Ok(AddressBook::locate(self, typed))
    }

    async fn nearest_address(&self, location: Location) -> PortResult<Option<(String, f64)>> {
        Ok(self.nearest(location))
    }
}
