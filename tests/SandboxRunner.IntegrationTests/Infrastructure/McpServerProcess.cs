using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// The built <c>sandbox-runner</c> in its own process, connected over stdio through the SDK's client
/// exactly as a real MCP client connects. Disposing it closes stdin, which ends the server.
/// </summary>
public sealed class McpServerProcess : IAsyncDisposable
{
    /// <summary>The config every MCP test starts from: the fake Codex, and policies open so tests choose what they check.</summary>
    public const string BaseConfig = $$"""
        {
          "image": "{{DockerFixture.FakeCodexImage}}",
          "codex_model": "gpt-5.5",
          "allowed_commands": [],
          "default_allowed_paths": ["**"]
        }
        """;

    private readonly ConcurrentQueue<string> _stderr = new();
    private McpClient? _client;

    private McpServerProcess()
    {
    }

    public McpClient Client => _client ?? throw new InvalidOperationException("not connected");

    /// <summary>What the server wrote on stderr so far (its log).</summary>
    public IReadOnlyList<string> Stderr => [.. _stderr];

    /// <summary>The server DLL next to the test assembly (the project reference copies it there).</summary>
    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "sandbox-runner.dll");

    /// <summary>
    /// Writes <see cref="BaseConfig"/> with <paramref name="overrides"/> (a JSON object) merged in, and keeps
    /// the file out of <c>git status</c> so tests can demand a clean working tree.
    /// </summary>
    public static void WriteConfig(TestRepository repository, string? overrides = null)
    {
        var config = JsonNode.Parse(BaseConfig)!.AsObject();
        if (overrides is not null)
        {
            foreach (var (name, value) in JsonNode.Parse(overrides)!.AsObject().ToList())
            {
                config[name] = value?.DeepClone();
            }
        }

        repository.WriteConfig(config.ToJsonString());
        ExcludeConfig(repository);
    }

    /// <summary>Writes the config file verbatim (for configs that must be broken).</summary>
    public static void WriteRawConfig(TestRepository repository, string json)
    {
        repository.WriteConfig(json);
        ExcludeConfig(repository);
    }

    /// <summary>Starts <c>dotnet sandbox-runner.dll --repo PATH</c> (or <paramref name="command"/>) and completes the MCP handshake.</summary>
    public static async Task<McpServerProcess> StartAsync(
        string repoPath,
        IDictionary<string, string?>? environment = null,
        string? command = null,
        CancellationToken cancellationToken = default)
    {
        var server = new McpServerProcess();
        IList<string> arguments = command is null ? [ServerDll, "--repo", repoPath] : ["--repo", repoPath];
        var env = new Dictionary<string, string?>(environment ?? new Dictionary<string, string?>())
        {
            // Tests decide whether the server has a key; the developer's own never leaks in.
            ["CODEX_API_KEY"] = environment?.TryGetValue("CODEX_API_KEY", out var key) == true ? key : null,
        };
        server._client = await McpClient.CreateAsync(
            new StdioClientTransport(new StdioClientTransportOptions
            {
                Name = "sandbox-runner",
                Command = command ?? "dotnet",
                Arguments = arguments,
                EnvironmentVariables = env,
                StandardErrorLines = server._stderr.Enqueue,
                ShutdownTimeout = TimeSpan.FromSeconds(10),
            }),
            cancellationToken: cancellationToken);
        return server;
    }

    public Task<CallToolResult> CallAsync(string tool, Dictionary<string, object?>? arguments = null, CancellationToken cancellationToken = default) =>
        Client.CallToolAsync(tool, arguments ?? [], cancellationToken: cancellationToken).AsTask();

    /// <summary>Calls a tool that must succeed and returns its structured content.</summary>
    public async Task<JsonElement> CallOkAsync(string tool, Dictionary<string, object?>? arguments = null, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(tool, arguments, cancellationToken);
        Assert.False(result.IsError == true, $"{tool} failed: {Text(result)}\nserver stderr:\n{string.Join('\n', Stderr.TakeLast(40))}");
        return Structured(result);
    }

    /// <summary>Polls <c>get_codex_run</c> until the run is no longer running (or cancelling), and returns its last view.</summary>
    public async Task<JsonElement> WaitForRunAsync(string runId, TimeSpan timeout, Action<JsonElement>? observe = null)
    {
        JsonElement view = default;
        var ended = await Poll.UntilAsync(
            async ct =>
            {
                view = await CallOkAsync("get_codex_run", new() { ["run_id"] = runId }, ct);
                observe?.Invoke(view);
                return view.GetProperty("status").GetString() is not ("running" or "cancelling");
            },
            TimeSpan.FromMilliseconds(200), timeout, CancellationToken.None);
        return ended ? view : throw new TimeoutException($"run {runId} still {view.GetProperty("status").GetString()} after {timeout}: {view}");
    }

    public static JsonElement Structured(CallToolResult result) =>
        result.StructuredContent is { } content ? content.Clone() : throw new InvalidOperationException($"no structured content: {Text(result)}");

    /// <summary>All text blocks of a tool result (where a tool error's message is).</summary>
    public static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    public static Dictionary<string, object?> TaskArg(string id, params string[] steps) => new()
    {
        ["task_id"] = id,
        ["prompt"] = string.Join('\n', steps),
    };

    public static Dictionary<string, object?> Run(string runId, params Dictionary<string, object?>[] tasks) => new()
    {
        ["run_id"] = runId,
        ["tasks"] = tasks,
    };

    /// <summary>A run id no other test (in this or a concurrent test process) uses, so label filters find only this test's containers.</summary>
    public static string NewRunId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
            _client = null;
        }
    }

    private static void ExcludeConfig(TestRepository repository)
    {
        var exclude = Path.Combine(repository.GitDir, "info", "exclude");
        Directory.CreateDirectory(Path.GetDirectoryName(exclude)!);
        var line = "/" + Configuration.RunnerConfig.FileName;
        if (!File.Exists(exclude) || !File.ReadAllLines(exclude).Contains(line))
        {
            File.AppendAllText(exclude, $"\n{line}\n");
        }
    }
}

/// <summary>
/// Collects progress notifications. <see cref="Messages"/> are in the order of their <c>progress</c>
/// numbers, which the server increments per notification: the client may dispatch notifications
/// concurrently, so arrival order is not the order they were sent in.
/// </summary>
public sealed class ProgressRecorder : IProgress<ProgressNotificationValue>
{
    private readonly ConcurrentQueue<ProgressNotificationValue> _values = new();

    public IReadOnlyList<string> Messages => [.. _values.OrderBy(v => v.Progress).Select(v => v.Message ?? "")];

    public IReadOnlyList<float> Numbers => [.. _values.Select(v => v.Progress)];

    public void Report(ProgressNotificationValue value) => _values.Enqueue(value);

    public async Task WaitForAsync(Func<string, bool> match, TimeSpan timeout)
    {
        if (!await Poll.UntilAsync(() => Messages.Any(match), TimeSpan.FromMilliseconds(50), timeout, CancellationToken.None))
        {
            throw new TimeoutException($"no such progress message after {timeout}; got: {string.Join(" | ", Messages)}");
        }
    }
}
