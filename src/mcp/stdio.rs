//! The stdio transport: newline-delimited JSON-RPC on any reader/writer pair.
//!
//! rmcp's `AsyncRwTransport` keeps its line buffer at the size of the largest message it
//! ever read, so one 100,000-entity save pinned ~16 MB (more for bigger saves) for the
//! rest of the session. This one gives a large buffer back after its message, and
//! otherwise behaves the same: lines are bounded while they are read (an oversized line
//! is dropped, never buffered), reads are cancellation-safe (rmcp polls `receive` inside
//! `select!`), and every line that cannot be read gets an answer, as JSON-RPC requires:
//! text that is not JSON a `Parse error` (-32700), to the request's id where a scan can
//! still read it, `null` otherwise; an oversized line a `Parse error` with id `null`;
//! well-formed JSON that is not a valid message an `Invalid Request` (-32600) if it has an
//! id (a malformed notification gets nothing). A string escape cut in half (a lone UTF-16
//! surrogate, what JavaScript leaves when it cuts a string mid-emoji) is read as U+FFFD
//! (`repair`), so the request is served instead of refused.

mod repair;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequest, CallToolRequestMethod, CallToolRequestParams, ClientRequest, ErrorData, JsonRpcMessage,
    JsonRpcRequest, JsonRpcVersion2_0, RequestId,
};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// A line buffer larger than this is released after its message instead of kept.
const KEEP_BUFFER_BYTES: usize = 1 << 20;

/// Bytes asked of the input per read: a whole pipe's worth (Linux pipes hold 64 KiB). Each
/// read of tokio's stdin is a round trip to a blocking thread, so the default 8 KiB made a
/// 1.2 MB save request cost ~150 of them.
const READ_BUFFER_BYTES: usize = 64 << 10;

/// Server side of a newline-delimited JSON-RPC stream.
pub struct LineTransport<R, W> {
    read: BufReader<R>,
    /// The line being read; survives a cancelled `receive`.
    line: Vec<u8>,
    /// Dropping the rest of an oversized line.
    discarding: bool,
    max_line_bytes: usize,
    /// The id of the last oversized message, when its start named one.
    oversized_id: Option<Value>,
    /// `None` once closed.
    write: Arc<Mutex<Option<W>>>,
}

/// What one bounded read produced.
enum LineRead {
    Line,
    Oversized,
    Eof,
    Failed(std::io::Error),
}

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(read: R, write: W, max_line_bytes: usize) -> LineTransport<R, W> {
        LineTransport {
            read: BufReader::with_capacity(READ_BUFFER_BYTES, read),
            line: Vec::new(),
            discarding: false,
            max_line_bytes,
            oversized_id: None,
            write: Arc::new(Mutex::new(Some(write))),
        }
    }

    /// Reads up to and including the next `\n` into `self.line`, never letting it grow past
    /// `max_line_bytes`. Nothing is consumed without being recorded in `self`, so a
    /// cancelled call resumes where it stopped.
    async fn read_line(&mut self) -> LineRead {
        loop {
            let available = match self.read.fill_buf().await {
                Ok(available) => available,
                Err(err) => return LineRead::Failed(err),
            };
            if available.is_empty() {
                return LineRead::Eof;
            }
            let newline = memchr::memchr(b'\n', available);
            let take = newline.map_or(available.len(), |i| i + 1);
            let mut outcome = None;
            if self.discarding {
                if newline.is_some() {
                    self.discarding = false;
                }
            } else if self.line.len() + take > self.max_line_bytes {
                // The id is near the start of a message: keep it to answer the request.
                let mut head = std::mem::take(&mut self.line);
                head.extend_from_slice(&available[..take.min(4096)]);
                self.oversized_id = repair::find_id(&head);
                self.discarding = newline.is_none();
                outcome = Some(LineRead::Oversized);
            } else {
                self.line.extend_from_slice(&available[..take]);
                if newline.is_some() {
                    outcome = Some(LineRead::Line);
                }
            }
            self.read.consume(take);
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// Empties the line buffer, releasing it when a large message made it large.
    fn reset_line(&mut self) {
        if self.line.capacity() > KEEP_BUFFER_BYTES {
            self.line = Vec::new();
        } else {
            self.line.clear();
        }
    }

    /// Sends an error for a message that could not be parsed, to `id` when it is known. It
    /// runs as its own task, so a cancelled `receive` cannot leave half an error on the stream.
    fn reply_error(&self, error: ErrorData, id: Option<Value>) {
        let id = id.and_then(|id| serde_json::from_value::<RequestId>(id).ok());
        let reply = TxJsonRpcMessage::<RoleServer>::error(error, id);
        tokio::spawn(write_message(Arc::clone(&self.write), reply));
    }
}

/// A `tools/call` request and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCall {
    #[allow(dead_code)]
    jsonrpc: JsonRpcVersion2_0,
    id: RequestId,
    #[allow(dead_code)]
    method: CallToolRequestMethod,
    params: CallToolRequestParams,
}

/// Parses one message. rmcp's parser tells the message kinds apart by buffering the whole
/// message (twice over, through flattened and untagged layers), which for a save of
/// 100,000 entities costs ~2.5x the parse itself and hundreds of MB; a plain `tools/call`
/// is therefore read straight into its parameters, with `_meta` (the progress token) put
/// where rmcp's parser puts it. Anything else, or anything that does not fit that exact
/// shape, goes through rmcp's parser.
fn parse_message(text: &[u8]) -> serde_json::Result<RxJsonRpcMessage<RoleServer>> {
    if let Ok(ToolCall { id, mut params, .. }) = serde_json::from_slice::<ToolCall>(text) {
        let meta = params.meta.take();
        let mut request = CallToolRequest::new(params);
        if let Some(meta) = meta {
            request.extensions.insert(meta);
        }
        return Ok(JsonRpcMessage::Request(JsonRpcRequest::new(id, ClientRequest::CallToolRequest(request))));
    }
    serde_json::from_slice(text)
}

/// Serialises `message` as one line and flushes it.
async fn write_message<W: AsyncWrite + Unpin>(
    write: Arc<Mutex<Option<W>>>,
    message: TxJsonRpcMessage<RoleServer>,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(&message)?;
    bytes.push(b'\n');
    let mut guard = write.lock().await;
    let Some(out) = guard.as_mut() else {
        return Err(std::io::Error::new(std::io::ErrorKind::NotConnected, "the transport is closed"));
    };
    out.write_all(&bytes).await?;
    out.flush().await
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        write_message(Arc::clone(&self.write), item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            match self.read_line().await {
                LineRead::Line => {}
                LineRead::Oversized => {
                    tracing::error!(
                        max_bytes = self.max_line_bytes,
                        "a message exceeded the maximum size and was dropped"
                    );
                    let message = oversize_message(self.max_line_bytes);
                    let id = self.oversized_id.take();
                    self.reply_error(ErrorData::parse_error(message, None), id);
                    continue;
                }
                LineRead::Eof => return None,
                LineRead::Failed(err) => {
                    tracing::error!("cannot read from the client: {err}");
                    return None;
                }
            }
            let text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                self.reset_line();
                continue;
            }
            let mut parsed = parse_message(text);
            if parsed.as_ref().is_err_and(|err| err.is_syntax())
                && let Some(mended) = repair::mend_lone_surrogates(text)
                && let Ok(message) = parse_message(&mended)
            {
                tracing::debug!("a lone UTF-16 surrogate escape was read as U+FFFD");
                parsed = Ok(message);
            }
            match parsed {
                Ok(message) => {
                    self.reset_line();
                    return Some(message);
                }
                Err(err) if err.is_syntax() || err.is_eof() => {
                    tracing::debug!("a message is not valid JSON: {err}");
                    let id = repair::find_id(text);
                    self.reply_error(ErrorData::parse_error(format!("Parse error: {err}"), None), id);
                }
                Err(err) => {
                    // Valid JSON, not a valid message: a request (it has an id) is owed an
                    // answer; a malformed notification gets none.
                    let id = serde_json::from_slice::<Value>(text).ok().and_then(|v| v.get("id").cloned());
                    if id.is_some() {
                        tracing::debug!("invalid JSON-RPC request: {err}");
                        self.reply_error(ErrorData::invalid_request(format!("Invalid request: {err}"), None), id);
                    } else {
                        tracing::debug!("ignoring a message that is not a JSON-RPC request: {err}");
                    }
                }
            }
            self.reset_line();
        }
    }

    fn close(&mut self) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        let write = Arc::clone(&self.write);
        async move {
            if let Some(mut out) = write.lock().await.take() {
                out.shutdown().await?;
            }
            Ok(())
        }
    }
}

/// `256 MiB`, `10.4 MB`-style size for messages.
/// What a client is told of a message larger than the server reads (stdio and HTTP).
pub(crate) fn oversize_message(max_bytes: usize) -> String {
    format!(
        "the message is larger than the {} this server reads (its size limit, lower under a memory limit: see --max-memory) and was not processed; send fewer entities per call",
        human_bytes(max_bytes)
    )
}

fn human_bytes(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};

    use super::*;

    const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;

    /// A transport reading from `client_out` and writing to `client_in`.
    fn pair(max: usize) -> (LineTransport<DuplexStream, DuplexStream>, DuplexStream, BufReader<DuplexStream>) {
        let (client_out, server_in) = tokio::io::duplex(1 << 16);
        let (server_out, client_in) = tokio::io::duplex(1 << 16);
        (LineTransport::new(server_in, server_out, max), client_out, BufReader::new(client_in))
    }

    fn is_ping(message: &RxJsonRpcMessage<RoleServer>) -> bool {
        serde_json::to_value(message).unwrap()["id"] == 7
    }

    /// Every line that cannot be read is answered: garbage with a Parse error (id null),
    /// broken JSON whose id can be read with a Parse error to that id, a malformed request
    /// with Invalid Request to its id; a malformed notification gets nothing, and the next
    /// good message still arrives.
    #[tokio::test]
    async fn bad_input_is_answered_or_ignored() {
        let (mut transport, mut client, mut replies) = pair(1 << 20);
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let input = format!(
            "not json\n\n{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}}\r\n{{\"jsonrpc\":\"2.0\",\"method\":[]}}\n\
             {{\"jsonrpc\":\"2.0\",\"id\":\"deep\",\"method\":\"ping\",\"params\":{deep}}}\n\u{feff}{PING}\r\n"
        );
        client.write_all(input.as_bytes()).await.unwrap();
        client.write_all(b"\xff\xfe{\"id\":3}\n").await.unwrap();
        assert!(is_ping(&transport.receive().await.unwrap()));
        drop(client);
        assert!(transport.receive().await.is_none());
        let mut all = String::new();
        for _ in 0..4 {
            replies.read_line(&mut all).await.unwrap();
        }
        transport.close().await.unwrap();
        let mut rest = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut replies, &mut rest).await.unwrap();
        assert_eq!(rest, "", "one answer per unreadable request, none for the notification");
        let mut seen: Vec<(Value, i64)> = all
            .lines()
            .map(|line| {
                let reply: Value = serde_json::from_str(line).unwrap();
                (reply["id"].clone(), reply["error"]["code"].as_i64().unwrap())
            })
            .collect();
        seen.sort_by_key(|(id, code)| (id.to_string(), *code));
        assert_eq!(
            seen,
            vec![(Value::from("deep"), -32700), (Value::from(1), -32600), (Value::Null, -32700), (Value::Null, -32700),],
            "{all}"
        );
    }

    /// A string escape cut in half is read as U+FFFD and the request is served.
    #[tokio::test]
    async fn lone_surrogates_are_read_as_replacement_characters() {
        let (mut transport, mut client, _replies) = pair(1 << 20);
        let call =
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"x","arguments":{"note":"cut \ud83d"}}}"#;
        client.write_all(format!("{call}\n").as_bytes()).await.unwrap();
        let message = serde_json::to_value(transport.receive().await.unwrap()).unwrap();
        assert_eq!(message["id"], 9);
        assert_eq!(message["params"]["arguments"]["note"], "cut \u{FFFD}");
    }

    /// An oversized line is dropped whole (even when it arrives in pieces) without being
    /// buffered, and a large buffer is released after its message.
    #[tokio::test]
    async fn oversized_lines_are_dropped_and_big_buffers_released() {
        let (mut transport, mut client, mut replies) = pair(4 << 20);
        let writer = tokio::spawn(async move {
            let huge =
                format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"{}\"}}\n", "a".repeat(5 << 20));
            client.write_all(huge.as_bytes()).await.unwrap();
            let big = format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}\n",
                "b".repeat(2 << 20)
            );
            client.write_all(big.as_bytes()).await.unwrap();
            client.write_all(format!("{PING}\n").as_bytes()).await.unwrap();
            client
        });
        assert!(is_ping(&transport.receive().await.unwrap()));
        assert_eq!(transport.line.capacity(), 0, "the 2 MB buffer was kept");
        let mut line = String::new();
        replies.read_line(&mut line).await.unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        // Answered to its id, read from the start of the message.
        assert_eq!((reply["id"].clone(), reply["error"]["code"].as_i64()), (Value::from(1), Some(-32700)), "{line}");
        assert!(
            reply["error"]["message"].as_str().unwrap().contains("larger than the 4 MiB this server reads"),
            "{line}"
        );
        assert!(is_ping(&transport.receive().await.unwrap()));
        assert!(transport.line.capacity() <= KEEP_BUFFER_BYTES);
        drop(writer.await.unwrap());
        assert!(transport.receive().await.is_none());
    }

    /// The `tools/call` shortcut yields exactly what rmcp's parser yields, progress token
    /// included; other shapes are left to rmcp.
    #[test]
    fn tool_calls_parse_as_rmcp_parses_them() {
        use rmcp::model::{GetMeta, ProgressToken};
        let lines = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"healthsim_tables"}}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","arguments":{"n":[1,{"k":"é"}]},"_meta":{"progressToken":42}}}"#,
            r#"{"id":9,"jsonrpc":"2.0","params":{"arguments":{},"name":"y","extra":true},"method":"tools/call"}"#,
        ];
        for line in lines {
            let ours = parse_message(line.as_bytes()).unwrap();
            let theirs: RxJsonRpcMessage<RoleServer> = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_value(&ours).unwrap(), serde_json::to_value(&theirs).unwrap(), "{line}");
            let token = |m: &RxJsonRpcMessage<RoleServer>| match m {
                JsonRpcMessage::Request(r) => r.request.get_meta().get_progress_token(),
                _ => panic!("not a request"),
            };
            assert_eq!(token(&ours), token(&theirs));
            if line.contains("progressToken") {
                assert_eq!(token(&ours), Some(ProgressToken(rmcp::model::NumberOrString::Number(42))));
            }
        }
        // Not the plain shape: rmcp decides (a stray `result` makes it invalid).
        let stray = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"},"result":{}}"#;
        assert!(parse_message(stray.as_bytes()).is_err());
        let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        assert!(matches!(parse_message(ping.as_bytes()).unwrap(), JsonRpcMessage::Request(_)));
    }

    /// A receive cancelled in the middle of a line loses nothing.
    #[tokio::test]
    async fn cancelled_receive_resumes_the_line() {
        let (mut transport, mut client, _replies) = pair(1 << 20);
        let (head, tail) = PING.split_at(20);
        client.write_all(head.as_bytes()).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(50), transport.receive()).await.is_err());
        client.write_all(format!("{tail}\n").as_bytes()).await.unwrap();
        assert!(is_ping(&transport.receive().await.unwrap()));
    }
}
