using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// One step of a scripted model: what the server answers to one <c>POST /v1/responses</c>.
/// </summary>
public abstract record ModelStep
{
    /// <summary>An <c>exec_command</c> function call: Codex runs <paramref name="cmd"/> through <c>bash -lc</c>.</summary>
    public static ModelStep Exec(string cmd) => new ExecStep(cmd);

    /// <summary>An <c>apply_patch</c> custom tool call; <paramref name="patch"/> is the freeform patch text (<c>*** Begin Patch</c> ... <c>*** End Patch</c>).</summary>
    public static ModelStep ApplyPatch(string patch) => new ApplyPatchStep(patch);

    /// <summary>A final assistant message: Codex ends the turn with it.</summary>
    public static ModelStep Message(string text) => new MessageStep(text);

    /// <summary>A stream that starts and then reports <c>response.failed</c> with this error.</summary>
    public static ModelStep Fail(string message, string code = "server_error") => new FailStep(message, code);

    /// <summary>A plain HTTP error (no stream) with an OpenAI-style error body.</summary>
    public static ModelStep HttpError(int status, string message) => new HttpErrorStep(status, message);

    /// <summary><c>response.created</c>, then nothing until the client goes away.</summary>
    public static ModelStep Hang() => new HangStep();
}

public sealed record ExecStep(string Cmd) : ModelStep;

public sealed record ApplyPatchStep(string Patch) : ModelStep;

public sealed record MessageStep(string Text) : ModelStep;

public sealed record FailStep(string Error, string Code) : ModelStep;

public sealed record HttpErrorStep(int Status, string Error) : ModelStep;

public sealed record HangStep : ModelStep;

/// <summary>A request as the server received it. <see cref="Scenario"/> and <see cref="Step"/> are what the server read from it.</summary>
public sealed record RecordedRequest(
    string Method,
    string Target,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    string? Scenario,
    int Step)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>The request body's <c>input</c> items.</summary>
    public IReadOnlyList<JsonNode> Input() =>
        JsonNode.Parse(Body)?["input"] is JsonArray input ? [.. input.Where(i => i is not null).Select(i => i!)] : [];
}

/// <summary>
/// A scripted stand-in for the OpenAI Responses API that the real Codex CLI talks to through a custom model
/// provider (see docs: <c>model_providers.NAME = {base_url = ..., wire_api = "responses"}</c>).
/// <para>
/// A request picks its scenario by the first <c>scenario:NAME</c> anywhere in its JSON (the prompt carries it),
/// and its step by how many tool outputs (<c>function_call_output</c>, <c>custom_tool_call_output</c>) its
/// <c>input</c> already holds: Codex resends the whole conversation each time, so step N is answered once
/// the model's first N calls have come back. Unknown scenarios and steps past the end get an HTTP 400 whose
/// message says so (Codex shows it as the turn's failure).
/// </para>
/// It listens on every interface so task containers reach it through the Docker bridge gateway, and records
/// every request it gets, on any path and with any method (a proxy-style request included).
/// </summary>
public sealed partial class ScriptedModelServer : IAsyncDisposable
{
    public const int InputTokensPerResponse = 10;
    public const int OutputTokensPerResponse = 5;

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, IReadOnlyList<ModelStep>> _scenarios = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _hangsAbandoned;

    private ScriptedModelServer(WebApplication app)
    {
        _app = app;
    }

    public int Port { get; private set; }

    /// <summary>Every request received, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Hanging streams whose client went away (the container was killed) before the server stopped.</summary>
    public int HangsAbandoned => Volatile.Read(ref _hangsAbandoned);

    public static async Task<ScriptedModelServer> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(options => options.Listen(IPAddress.Any, 0));
        var app = builder.Build();
        var server = new ScriptedModelServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        server.Port = new Uri(address.Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port;
        return server;
    }

    /// <summary>Where the ChatGPT backend takes Codex's turns (under its <c>/backend-api</c> base); served like <c>/v1/responses</c>.</summary>
    public const string ChatGptResponsesPath = "/backend-api/codex/responses";

    /// <summary>Where a scripted OAuth token endpoint answers, when <see cref="TokenEndpoint"/> is set.</summary>
    public const string TokenPath = "/oauth/token";

    /// <summary>Answers <c>POST /oauth/token</c>: from the request body, the status and JSON body to send.</summary>
    public Func<string, (int Status, string Json)>? TokenEndpoint { get; set; }

    /// <summary>The ChatGPT backend base (Codex's <c>chatgpt_base_url</c>) as seen from <paramref name="host"/>.</summary>
    public string ChatGptBaseUrlFor(string host) => $"http://{host}:{Port}/backend-api";

    /// <summary>The provider's <c>base_url</c> as seen from <paramref name="host"/> (e.g. the Docker bridge gateway).</summary>
    public string BaseUrlFor(string host) => $"http://{host}:{Port}/v1";

    /// <summary>Defines (or replaces) a scenario; the prompt selects it with <c>scenario:NAME</c>.</summary>
    public ScriptedModelServer Scenario(string name, params ModelStep[] steps)
    {
        if (!ScenarioName().IsMatch(name))
        {
            throw new ArgumentException($"scenario names are [A-Za-z0-9_-]+, not '{name}'", nameof(name));
        }

        _scenarios[name] = steps;
        return this;
    }

    /// <summary>The marker to put in a prompt to select a scenario.</summary>
    public static string Marker(string name) => $"scenario:{name}";

    public IReadOnlyList<RecordedRequest> RequestsFor(string scenario) =>
        [.. _requests.Where(r => r.Scenario == scenario)];

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var match = ScenarioMarker().Match(body);
        var scenario = match.Success ? match.Groups[1].Value : null;
        var step = CountToolOutputs(body);
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "";
        _requests.Enqueue(new RecordedRequest(
            request.Method,
            target,
            request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body,
            scenario,
            step));

        if (HttpMethods.IsPost(request.Method) && request.Path == TokenPath && TokenEndpoint is { } token)
        {
            var (status, json) = token(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(json, context.RequestAborted);
            return;
        }

        if (!HttpMethods.IsPost(request.Method) || (request.Path != "/v1/responses" && request.Path != ChatGptResponsesPath))
        {
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, $"the scripted model server only serves POST /v1/responses, not {request.Method} {target}");
            return;
        }

        if (scenario is null || !_scenarios.TryGetValue(scenario, out var steps))
        {
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, scenario is null ? "no scenario:NAME marker in the request" : $"unknown scenario '{scenario}'");
            return;
        }

        if (step >= steps.Count)
        {
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, $"scenario '{scenario}' has {steps.Count} step(s); the request asked for step {step}");
            return;
        }

        await AnswerAsync(context, steps[step], $"{scenario}_{step}");
    }

    private async Task AnswerAsync(HttpContext context, ModelStep step, string id)
    {
        if (step is HttpErrorStep error)
        {
            await WriteErrorAsync(context, error.Status, error.Error);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var responseId = $"resp_{id}";
        await SendAsync(context, new JsonObject { ["type"] = "response.created", ["response"] = new JsonObject { ["id"] = responseId } });

        switch (step)
        {
            case HangStep:
                await HangAsync(context);
                return;
            case FailStep fail:
                await SendAsync(context, new JsonObject
                {
                    ["type"] = "response.failed",
                    ["response"] = new JsonObject
                    {
                        ["id"] = responseId,
                        ["error"] = new JsonObject { ["code"] = fail.Code, ["message"] = fail.Error },
                    },
                });
                return;
        }

        await SendAsync(context, new JsonObject { ["type"] = "response.output_item.done", ["item"] = Item(step, id) });
        await SendAsync(context, new JsonObject
        {
            ["type"] = "response.completed",
            ["response"] = new JsonObject
            {
                ["id"] = responseId,
                ["usage"] = new JsonObject
                {
                    ["input_tokens"] = InputTokensPerResponse,
                    ["input_tokens_details"] = null,
                    ["output_tokens"] = OutputTokensPerResponse,
                    ["output_tokens_details"] = null,
                    ["total_tokens"] = InputTokensPerResponse + OutputTokensPerResponse,
                },
            },
        });
    }

    private static JsonObject Item(ModelStep step, string id) => step switch
    {
        ExecStep exec => new JsonObject
        {
            ["type"] = "function_call",
            ["id"] = $"fc_{id}",
            ["call_id"] = $"call_{id}",
            ["name"] = "exec_command",
            ["arguments"] = new JsonObject { ["cmd"] = exec.Cmd }.ToJsonString(),
        },
        ApplyPatchStep patch => new JsonObject
        {
            ["type"] = "custom_tool_call",
            ["id"] = $"ctc_{id}",
            ["call_id"] = $"call_{id}",
            ["name"] = "apply_patch",
            ["input"] = patch.Patch,
        },
        MessageStep message => new JsonObject
        {
            ["type"] = "message",
            ["role"] = "assistant",
            ["id"] = $"msg_{id}",
            ["content"] = new JsonArray { new JsonObject { ["type"] = "output_text", ["text"] = message.Text } },
        },
        _ => throw new InvalidOperationException($"{step.GetType().Name} is not an output item"),
    };

    private async Task HangAsync(HttpContext context)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            await Task.Delay(Timeout.Infinite, linked.Token);
        }
        catch (OperationCanceledException)
        {
            if (context.RequestAborted.IsCancellationRequested && !_stopping.IsCancellationRequested)
            {
                Interlocked.Increment(ref _hangsAbandoned);
            }

            context.Abort();
        }
    }

    private static async Task SendAsync(HttpContext context, JsonObject data)
    {
        var text = $"event: {data["type"]}\ndata: {data.ToJsonString()}\n\n";
        await context.Response.WriteAsync(text, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static async Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var body = new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = status >= 500 ? "server_error" : "invalid_request_error", ["code"] = null },
        };
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    /// <summary>How many tool results the conversation already holds: the index of the step to answer.</summary>
    private static int CountToolOutputs(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("input", out var input)
                || input.ValueKind != JsonValueKind.Array)
            {
                return 0;
            }

            return input.EnumerateArray().Count(item =>
                item.ValueKind == JsonValueKind.Object
                && item.TryGetProperty("type", out var type)
                && type.GetString() is "function_call_output" or "custom_tool_call_output");
        }
        catch (JsonException)
        {
            return 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
            _stopping.Dispose();
        }
    }

    [GeneratedRegex("scenario:([A-Za-z0-9_-]+)")]
    private static partial Regex ScenarioMarker();

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex ScenarioName();
}
