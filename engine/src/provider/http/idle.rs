//! A stream that fails once its source has been silent for too long.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::time::{Instant, Sleep};

use crate::provider::ProviderError;

pub(super) struct IdleTimeout<T> {
    inner: BoxStream<'static, Result<T, ProviderError>>,
    limit: Duration,
    sleep: Pin<Box<Sleep>>,
    error: Option<ProviderError>,
}

impl<T> IdleTimeout<T> {
    pub fn new(
        inner: BoxStream<'static, Result<T, ProviderError>>,
        limit: Duration,
        error: ProviderError,
    ) -> Self {
        IdleTimeout {
            inner,
            limit,
            sleep: Box::pin(tokio::time::sleep(limit)),
            error: Some(error),
        }
    }
}

impl<T> Stream for IdleTimeout<T> {
    type Item = Result<T, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // After the timeout has fired, the stream is over.
        if self.error.is_none() {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(item) => {
                let deadline = Instant::now() + self.limit;
                self.sleep.as_mut().reset(deadline);
                Poll::Ready(item)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(self.error.take().map(Err)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ErrorKind;
    use futures_util::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn fails_after_silence_and_resets_on_each_item() {
        let source = futures_util::stream::unfold(0u32, |i| async move {
            let wait = if i < 3 { 900 } else { 5_000 };
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Some((Ok::<u32, ProviderError>(i), i + 1))
        });
        let err = ProviderError::new(ErrorKind::Timeout, "silent");
        let mut s = IdleTimeout::new(source.boxed(), Duration::from_secs(1), err);
        for i in 0..3 {
            assert_eq!(
                s.next().await.unwrap().unwrap(),
                i,
                "900 ms gaps are under the limit"
            );
        }
        assert_eq!(
            s.next().await.unwrap().unwrap_err().kind,
            ErrorKind::Timeout
        );
        assert!(s.next().await.is_none());
    }
}
