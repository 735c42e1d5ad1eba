//! One [`Delivery`] per channel: what the shells wire (SMTP or SES for
//! email, an HTTP gateway or SNS for SMS, the log for the rest).

use std::sync::Arc;

use async_trait::async_trait;

use super::files::OutboundFile;
use crate::model::{Channel, Outbound};
use crate::ports::{Delivered, Delivery, PortError};
use crate::system::LogDelivery;

/// Routes each message to its channel's sender; channels without one go to
/// [`LogDelivery`].
#[derive(Clone)]
pub struct ChannelDelivery {
    email: Arc<dyn Delivery>,
    sms: Arc<dyn Delivery>,
    other: Arc<dyn Delivery>,
}

impl Default for ChannelDelivery {
    fn default() -> Self {
        ChannelDelivery {
            email: Arc::new(LogDelivery),
            sms: Arc::new(LogDelivery),
            other: Arc::new(LogDelivery),
        }
    }
}

impl ChannelDelivery {
    /// Every channel to the log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Emails go to `sender`.
    pub fn with_email(mut self, sender: Arc<dyn Delivery>) -> Self {
        self.email = sender;
        self
    }

    /// The sender of `channel`'s messages.
    fn sender(&self, channel: Channel) -> &dyn Delivery {
        match channel {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
            Channel::Call | Channel::Messenger => self.other.as_ref(),
        }
    }

    /// SMS go to `sender`.
    pub fn with_sms(mut self, sender: Arc<dyn Delivery>) -> Self {
        self.sms = sender;
        self
    }
}

#[async_trait]
impl Delivery for ChannelDelivery {
    async fn deliver(&self, message: &Outbound) -> Result<Delivered, PortError> {
        self.sender(message.channel).deliver(message).await
    }

    async fn deliver_with_files(
        &self,
        message: &Outbound,
        files: &[OutboundFile],
    ) -> Result<Delivered, PortError> {
        self.sender(message.channel)
            .deliver_with_files(message, files)
            .await
    }
}
