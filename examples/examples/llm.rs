//! SSE over POST, as LLM streaming APIs do it: a JSON prompt in, one
//! `token` event per token out, then a final `done` event with the reason
//! and the usage. The "model" is a toy that streams a canned answer.
//!
//! ```text
//! cargo run --example llm
//! curl -N localhost:3000/v1/completions \
//!      -H 'content-type: application/json' \
//!      -d '{"model":"toy-1","prompt":"Why is the sky blue?","max_tokens":12}'
//! ```
//!
//! ```text
//! event: token
//! data: {"index":0,"text":"You"}
//!
//! event: token
//! data: {"index":1,"text":" asked:"}
//! ...
//! event: done
//! data: {"finish_reason":"length","usage":{"prompt_tokens":5,"completion_tokens":12}}
//! ```
//!
//! A body that is not a valid request is answered `400` before any stream
//! starts; a client that hangs up stops the generation.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sse::http::StatusCode;
use sse::{Request, Server, SseHandle, SseMessage, SseResponse, sse_routes};

#[derive(Deserialize)]
struct Completion {
    // `model` and other fields of the usual APIs are accepted and ignored:
    // there is one toy model.
    prompt: String,
    #[serde(default = "default_max_tokens")]
    max_tokens: usize,
}

fn default_max_tokens() -> usize {
    64
}

#[derive(Serialize)]
struct Token<'a> {
    index: usize,
    text: &'a str,
}

#[derive(Serialize)]
struct Done {
    finish_reason: &'static str,
    usage: Usage,
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: usize,
    completion_tokens: usize,
}

/// `POST /v1/completions`. A plain handler rather than an `#[sse_handler]`
/// body, because it must be able to refuse the request before the `200`.
async fn completions(request: Request) -> SseResponse {
    let completion: Completion = match serde_json::from_slice(request.body()) {
        Ok(completion) => completion,
        Err(error) => {
            return SseResponse::refuse(StatusCode::BAD_REQUEST, format!("bad request: {error}"));
        }
    };
    SseResponse::ok(move |sse: SseHandle| async move {
        if let Err(error) = generate(&sse, completion).await {
            tracing::debug!(%error, "generation stopped");
        }
    })
}

async fn generate(
    sse: &SseHandle,
    completion: Completion,
) -> Result<(), Box<dyn std::error::Error>> {
    let answer = toy_model(&completion.prompt);
    let tokens = answer.iter().take(completion.max_tokens);
    let mut count = 0;
    for (index, text) in tokens.enumerate() {
        // A model takes a while per token; the client sees each as it comes.
        tokio::time::sleep(Duration::from_millis(40)).await;
        // `send_wait`: a slow reader slows the generation down (backpressure).
        sse.send_wait(SseMessage::json_event("token", &Token { index, text })?)
            .await?;
        count += 1;
    }
    let finish_reason = if count < answer.len() {
        "length"
    } else {
        "stop"
    };
    let usage = Usage {
        prompt_tokens: completion.prompt.split_whitespace().count(),
        completion_tokens: count,
    };
    sse.send(SseMessage::json_event(
        "done",
        &Done {
            finish_reason,
            usage,
        },
    )?)?;
    // Returning drops the last handle: the stream ends after `done`.
    Ok(())
}

/// The answer's tokens: words, each with the space before it, as
/// tokenizers split text.
fn toy_model(prompt: &str) -> Vec<String> {
    let answer = format!(
        "You asked: \u{201c}{}\u{201d}. A real model would answer here, one token at a time, \
         and this toy streams the same way.",
        prompt.trim()
    );
    answer
        .split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    sse_examples::init_logging();
    let server = Server::bind(sse_examples::listen_addr(3000)).await?;
    println!(
        "llm: POST a JSON prompt to http://{}/v1/completions",
        server.local_addr()?
    );
    server
        .serve(sse_routes! { POST "/v1/completions" => (completions) })
        .await;
    Ok(())
}
