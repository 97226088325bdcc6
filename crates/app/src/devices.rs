//! Phone apps registered for push: a token checked for its platform, an endpoint from the push service, a device id for reports.

use chrono::{DateTime, Utc};

use crate::ports::{Device, DeviceRegistry, Platform, PortError, RequestStore};
use cityfix_domain::{recipient_hash, Invalid};

/// Why a device was not registered; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum DeviceRefused {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The city sends no push to that platform (no platform application is set up for it).
    #[error("{} 311 sends no notifications to {} devices", .0, .1.as_str())]
    NotOffered(String, Platform),
    #[error(transparent)]
    Port(PortError),
}

/// The platform named in a registration: `apns` or `fcm`.
pub fn parse_platform(name: &str) -> Result<Platform, Invalid> {
    Platform::parse(name.trim())
        .ok_or_else(|| Invalid::field("platform", "platform must be `apns` or `fcm`"))
}

/// Refuses a token the platform could not have given: an APNs device token is hexadecimal, 32
/// to 100 bytes (64 to 200 digits); an FCM registration token is 32 to 4096 of letters, digits,
/// `-`, `_` and `:`.
pub fn check_token(platform: Platform, token: &str) -> Result<(), Invalid> {
    let refuse = |why: &str| Invalid::field("token", why.to_string()).with_code("invalid_token");
    match platform {
        Platform::Apns => {
            if !(64..=200).contains(&token.len()) || !token.len().is_multiple_of(2) {
                return Err(refuse(
                    "an APNs device token is 64 to 200 hexadecimal digits, an even number",
                ));
            }
            if !token.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(refuse(
                    "an APNs device token holds only the digits 0-9 and a-f",
                ));
            }
        }
        Platform::Fcm => {
            if !(32..=4096).contains(&token.len()) {
                return Err(refuse("an FCM registration token is 32 to 4096 characters"));
            }
            if !token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:".contains(c))
            {
                return Err(refuse(
                    "an FCM registration token holds only letters, digits, -, _ and :",
                ));
            }
        }
    }
    Ok(())
}

/// The id reports carry for the app with this token: the same for the same token, so
/// registering again (each start of the app) changes nothing.
pub fn device_id(platform: Platform, token: &str) -> String {
    format!(
        "dev-{}",
        recipient_hash(&format!("{}:{token}", platform.as_str()))
    )
}

/// Registers a device: checks the token, asks the push service for its endpoint, keeps both.
pub async fn register_device(
    store: &dyn RequestStore,
    registry: &dyn DeviceRegistry,
    city: &str,
    platform: Platform,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Device, DeviceRefused> {
    let token = token.trim();
    check_token(platform, token)?;
    let id = device_id(platform, token);
    if let Some(known) = store.device(&id).await.map_err(DeviceRefused::Port)? {
        return Ok(known);
    }
    let endpoint = match registry.register(platform, token).await {
        Ok(endpoint) => endpoint,
        Err(PortError::NotFound(_)) => {
            return Err(DeviceRefused::NotOffered(city.to_string(), platform))
        }
        Err(error) => return Err(DeviceRefused::Port(error)),
    };
    let device = Device {
        id,
        platform,
        endpoint,
        registered_at: now,
    };
    store
        .save_device(&device)
        .await
        .map_err(DeviceRefused::Port)?;
    tracing::info!(
        platform = platform.as_str(),
        "a device was registered for push"
    );
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_for_their_platform() {
        let apns = "0a1b2c3d".repeat(8);
        assert!(check_token(Platform::Apns, &apns).is_ok());
        assert!(check_token(Platform::Apns, &apns[..63]).is_err());
        assert!(check_token(Platform::Apns, &"zz".repeat(32)).is_err());
        let fcm = "cT8s-Xk3:APA91bH_0123456789abcdefghijklmnopqrstuvwxyz";
        assert!(check_token(Platform::Fcm, fcm).is_ok());
        assert!(check_token(Platform::Fcm, "short").is_err());
        assert!(check_token(Platform::Fcm, &format!("{fcm} <script>")).is_err());
        assert_ne!(
            device_id(Platform::Fcm, fcm),
            device_id(Platform::Apns, fcm)
        );
        assert!(parse_platform("webpush").is_err());
    }
}
