using SandboxRunner.Configuration;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.IntegrationTests.Containment;

/// <summary>
/// A <c>deny</c> run whose one task is held in the middle of a request through its proxy to a gate server of the
/// test's own, so the run's proxy is up, with its key, for as long as the test attacks it; then the task asks the
/// model endpoint through the proxy (its own run must still be served) and finishes when the gate opens.
/// </summary>
public sealed class HeldDenyRun : IAsyncDisposable
{
    public const string Key = "sk-test-victim-key-0123456789abcdefABCDEF";
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);

    private HeldDenyRun(RunnerHarness harness, HostHttpServer gate, HostHttpServer model, string gateway, string runId, Task<RunResult> run)
    {
        Harness = harness;
        Gate = gate;
        Model = model;
        Gateway = gateway;
        RunId = runId;
        Run = run;
    }

    public RunnerHarness Harness { get; }

    public HostHttpServer Gate { get; }

    /// <summary>The model endpoint: every request the proxy forwards here carries the key.</summary>
    public HostHttpServer Model { get; }

    /// <summary>Where the engine's containers reach this machine's servers.</summary>
    public string Gateway { get; }

    public string RunId { get; }

    public Task<RunResult> Run { get; }

    public string ModelHost => $"{Gateway}:{Model.Port}";

    /// <summary>Starts the run with <see cref="Key"/> as its API key and returns once its task is held at the gate (its proxy is up).</summary>
    public static Task<HeldDenyRun> StartAsync(IEngineUnderTest target) =>
        StartAsync(target, c => c, name => name == "CODEX_API_KEY" ? Key : null);

    /// <summary>The same with a ChatGPT sign-in (the host's <paramref name="codexHome"/>) instead of a key.</summary>
    public static Task<HeldDenyRun> StartSignedInAsync(IEngineUnderTest target, string codexHome) =>
        StartAsync(target, c => c with { AuthMethod = AuthMethod.ChatGpt }, name => name == "CODEX_HOME" ? codexHome : null);

    private static async Task<HeldDenyRun> StartAsync(IEngineUnderTest target, Func<RunnerConfig, RunnerConfig> configure, Func<string, string?> hostEnvironment)
    {
        var gateway = await target.HostGatewayAsync();
        var gate = new HostHttpServer("gate-body") { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var model = new HostHttpServer("model-body");
        var harness = await target.HarnessAsync(
            c => configure(c with
            {
                NetworkPolicy = NetworkPolicy.Deny,
                NetworkAllowlist = [$"{gateway}:{gate.Port}", $"{gateway}:{model.Port}"],
                ModelBaseUrl = $"http://{gateway}:{model.Port}/v1",
                EnvPassthrough = ["CODEX_API_KEY"],
            }),
            hostEnvironment);
        var runId = McpServerProcess.NewRunId("victim");
        var run = harness.RunAsync(
            new RunRequest
            {
                RunId = runId,
                Tasks =
                [
                    RunnerHarness.Task(
                        "victim",
                        $"@run * exec 3<>/dev/tcp/sandbox-proxy/3128 && printf 'GET http://{gateway}:{gate.Port}/held HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
                        "@run * exec 3<>/dev/tcp/sandbox-proxy/8080 && printf 'GET /from-the-victim HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3 && cat <&3",
                        "@write src/victim.txt kept\\n"),
                ],
            },
            CancellationToken.None);

        // Bounded by the run itself: a run that ends before its request arrives fails the wait at once.
        while (gate.Requests.IsEmpty)
        {
            if (run.IsCompleted)
            {
                var ended = await run;
                throw new InvalidOperationException($"the held run ended before its task reached the gate: {ended.Results[0].Status}: {ended.Results[0].NotesForManager}");
            }

            await Task.Delay(100);
        }

        return new HeldDenyRun(harness, gate, model, gateway, runId, run);
    }

    /// <summary>The run's proxy container and its addresses: on the default bridge and on the run's own network.</summary>
    public async Task<(string Id, string Bridge, string Internal)> ProxyAsync()
    {
        // A gateway made ahead of its run carries no run label: the backend knows which run it was handed to.
        var engine = Harness.Engine;
        var gateway = Assert.Single(engine.Backend.Gateways.Of(new BoxScope(Harness.Scope), RunId));
        var id = gateway.ProxyId!;
        return (id, (await engine.AddressAsync(id, "bridge", CancellationToken.None))!, (await engine.AddressAsync(id, gateway.NetworkName, CancellationToken.None))!);
    }

    /// <summary>Opens the gate and returns the held task's result, which must have kept its work.</summary>
    public async Task<TaskResult> FinishAsync()
    {
        Gate.Hold!.TrySetResult();
        var result = Assert.Single((await Run.WaitAsync(Bound)).Results);
        Assert.True(result.Status == TaskStatus.Success, $"the held run: {result.Status}: {result.NotesForManager}");
        Assert.Equal(["src/victim.txt"], result.FilesChanged);
        return result;
    }

    /// <summary>The requests the proxy forwarded to the model endpoint with the key.</summary>
    public IReadOnlyList<string> KeyedModelRequests =>
        Model.Requests.Where(r => r.Contains($"Authorization: Bearer {Key}", StringComparison.Ordinal)).Select(r => r.Split('\r')[0]).ToList();

    public async ValueTask DisposeAsync()
    {
        Gate.Hold!.TrySetResult();
        try
        {
            await Run.WaitAsync(Bound);
        }
        catch (Exception e) when (e is not TimeoutException)
        {
        }

        await Harness.DisposeAsync();
        await Gate.DisposeAsync();
        await Model.DisposeAsync();
    }
}
