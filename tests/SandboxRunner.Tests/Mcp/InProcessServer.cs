using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelContextProtocol.Client;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using SandboxRunner.Configuration;
using SandboxRunner.Host.Composition;
using SandboxRunner.Host.Mcp;
using SandboxRunner.Platform;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Tests.Fakes;
using SandboxRunner.Runs;
using SandboxRunner.Tests.Runs;

namespace SandboxRunner.Tests.Mcp;

/// <summary>
/// The MCP server as the process composes it (<see cref="RunnerServices"/> plus <see cref="McpServer.AddRunnerMcp"/>),
/// run in this process with the <see cref="FakeEngine"/> in place of Docker, and the SDK's own client talking to it over
/// a pair of pipes (the idea of the C# SDK's ClientServerTestBase). For protocol behaviour: arguments, tool listing,
/// progress, cancellation, config reload. What only the process boundary shows (startup, shutdown, stdio hygiene,
/// the packed tool) stays with the stdio tests of the integration suite.
/// </summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    /// <summary>The config every test starts from: the fake's image, no network, and policies open so tests choose what they check.</summary>
    public const string BaseConfig = $$"""
        {
          "image": "{{RunnerTestBed.Image}}",
          "network_policy": "none",
          "codex_model": "gpt-5.5",
          "allowed_commands": [],
          "default_allowed_paths": ["**"]
        }
        """;

    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();
    private readonly RunnerTestBed _bed;
    private IHost? _host;
    private McpClient? _client;

    private InProcessServer(RunnerTestBed bed) => _bed = bed;

    public McpClient Client => _client ?? throw new InvalidOperationException("not connected");

    public FakeEngine Engine => _bed.Engine;

    public string RepoPath => _bed.Path;

    /// <param name="configOverrides">Fields merged into <see cref="BaseConfig"/>.</param>
    /// <param name="toolSnapshotFolder">Where the server looks for its tool snapshot (a published host's folder); none by default.</param>
    public static async Task<InProcessServer> StartAsync(string? configOverrides = null, string? toolSnapshotFolder = null)
    {
        var server = new InProcessServer(await RunnerTestBed.CreateAsync());
        try
        {
            server.WriteConfig(configOverrides);
            var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddRunner(new HostSettings { Repo = server._bed.Path });
            builder.Services.AddSingleton(ProcessBackends.Fixed(server._bed.Backend));
            builder.Services.AddRunnerMcp(toolSnapshotFolder ?? Path.Combine(server._bed.Path, "no-tool-snapshot")).WithStreamServerTransport(server._toServer.Reader.AsStream(), server._toClient.Writer.AsStream());
            server._host = builder.Build();
            await server._host.StartAsync();
            server._client = await McpClient.CreateAsync(new StreamClientTransport(server._toServer.Writer.AsStream(), server._toClient.Reader.AsStream()));
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Writes <see cref="BaseConfig"/> with <paramref name="overrides"/> merged in, kept out of <c>git status</c>.</summary>
    public void WriteConfig(string? overrides = null)
    {
        var config = JsonNode.Parse(BaseConfig)!.AsObject();
        foreach (var (name, value) in overrides is null ? [] : JsonNode.Parse(overrides)!.AsObject().ToList())
        {
            config[name] = value?.DeepClone();
        }

        File.WriteAllText(Path.Combine(_bed.Path, RunnerConfig.FileName), config.ToJsonString());
        var exclude = Path.Combine(_bed.Path, ".git", "info", "exclude");
        Directory.CreateDirectory(Path.GetDirectoryName(exclude)!);
        if (!File.Exists(exclude) || !File.ReadAllText(exclude).Contains("/" + RunnerConfig.FileName, StringComparison.Ordinal))
        {
            File.AppendAllText(exclude, $"\n/{RunnerConfig.FileName}\n");
        }
    }

    public Task<CallToolResult> CallAsync(string tool, Dictionary<string, object?>? arguments = null, CancellationToken cancellationToken = default) =>
        Client.CallToolAsync(tool, arguments ?? [], cancellationToken: cancellationToken).AsTask().WaitAsync(RunnerTestBed.Hang, CancellationToken.None);

    /// <summary>Calls a tool that must succeed and returns its structured content.</summary>
    public async Task<JsonElement> CallOkAsync(string tool, Dictionary<string, object?>? arguments = null)
    {
        var result = await CallAsync(tool, arguments);
        Assert.False(result.IsError == true, $"{tool} failed: {Text(result)}");
        return Structured(result);
    }

    /// <summary>Asks <c>get_codex_run</c> until the run is no longer running (or cancelling), and returns its last view.</summary>
    public async Task<JsonElement> WaitForRunAsync(string runId)
    {
        JsonElement view = default;
        var ended = await Poll.UntilAsync(
            async _ => (view = await CallOkAsync("get_codex_run", new() { ["run_id"] = runId })).GetProperty("status").GetString() is not ("running" or "cancelling"),
            TimeSpan.FromMilliseconds(20), RunnerTestBed.Hang, CancellationToken.None);
        Assert.True(ended, $"run {runId} has hung: {view}");
        return view;
    }

    public static JsonElement Structured(CallToolResult result) =>
        result.StructuredContent is { } content ? content.Clone() : throw new InvalidOperationException($"no structured content: {Text(result)}");

    /// <summary>All text blocks of a tool result (where a tool error's message is).</summary>
    public static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    /// <summary>An agent that starts only once <paramref name="gate"/> opens (the test opens it), then does <paramref name="then"/>.</summary>
    public static FakeAgent Gated(Task gate, FakeAgent then) => async (container, killed) =>
    {
        await gate.WaitAsync(killed);
        return await then(container, killed);
    };

    public static Dictionary<string, object?> TaskArg(string id, string prompt = "do the thing") => new() { ["task_id"] = id, ["prompt"] = prompt };

    public static Dictionary<string, object?> Run(string runId, params Dictionary<string, object?>[] tasks) => new() { ["run_id"] = runId, ["tasks"] = tasks };

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        await _toServer.Writer.CompleteAsync();
        if (_host is not null)
        {
            await _host.StopAsync(CancellationToken.None);
            _host.Dispose();
        }

        _bed.Dispose();
    }
}

/// <summary>
/// Collects progress notifications. <see cref="Messages"/> are in the order of their <c>progress</c> numbers, which the
/// server increments per notification: the client may dispatch notifications concurrently, so arrival order is not
/// the order they were sent in.
/// </summary>
internal sealed class ProgressRecorder : IProgress<ProgressNotificationValue>
{
    private readonly ConcurrentQueue<ProgressNotificationValue> _values = new();

    public IReadOnlyList<string> Messages => [.. _values.OrderBy(v => v.Progress).Select(v => v.Message ?? "")];

    public IReadOnlyList<float> Numbers => [.. _values.Select(v => v.Progress)];

    public void Report(ProgressNotificationValue value) => _values.Enqueue(value);

    public async Task WaitForAsync(Func<string, bool> match) =>
        Assert.True(
            await Poll.UntilAsync(() => Messages.Any(match), TimeSpan.FromMilliseconds(10), RunnerTestBed.Hang, CancellationToken.None),
            $"no such progress message; got: {string.Join(" | ", Messages)}");
}
