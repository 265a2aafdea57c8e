using System.Text.Json.Nodes;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes;
using SandboxRunner.Git;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Runs;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// The runner as the server and the command line compose it (a <see cref="Workspace"/> whose backends the factory
/// makes from the config), on a test repository whose <c>.mcp-codex.json</c> names the fixture's swarm. Disposing
/// it proves nothing of its runs is left on any node: no service, marker, secret or network on the manager, no
/// container or volume on either node's engine.
/// </summary>
public sealed class SwarmPipeline : IAsyncDisposable
{
    private readonly SwarmFixture _swarm;

    private SwarmPipeline(SwarmFixture swarm, TestRepository repository, Workspace workspace, string scope)
    {
        _swarm = swarm;
        Repository = repository;
        Workspace = workspace;
        Scope = scope;
    }

    public TestRepository Repository { get; }

    public Workspace Workspace { get; }

    public string Scope { get; }

    /// <summary>
    /// The config for the fixture's swarm (the fake Codex, no network, policies open), with <paramref name="fields"/>
    /// (a JSON object's members, e.g. <c>"max_tasks_per_node": 4</c>) added or replacing these.
    /// </summary>
    public string ConfigWith(string fields)
    {
        var config = new JsonObject
        {
            ["backend"] = "swarm",
            ["registry"] = _swarm.Registry,
            ["image"] = DockerFixture.FakeCodexImage,
            ["codex_model"] = "gpt-5.5",
            ["network_policy"] = "none",
            ["allowed_commands"] = new JsonArray(),
            ["default_allowed_paths"] = new JsonArray("**"),
        };
        foreach (var (name, value) in JsonNode.Parse($"{{{fields}}}")!.AsObject().ToList())
        {
            config[name] = value?.DeepClone();
        }

        return config.ToJsonString();
    }

    /// <summary>A pipeline whose runner reaches the swarm's manager at <paramref name="manager"/> (the fixture's, over TLS, unless given).</summary>
    public static async Task<SwarmPipeline> OpenAsync(SwarmFixture swarm, string fields = "", SandboxRunner.Boxes.Docker.EngineConnection? manager = null)
    {
        var repository = new TestRepository();
        var git = new GitCli(NullLogger<GitCli>.Instance);
        var scope = Labels.ScopeOf((await HostRepository.OpenAsync(git, repository.Path, CancellationToken.None)).CommonDir);
        // The manager as DOCKER_HOST would name it; which backend runs the tasks is the config's choice.
        var workspace = new Workspace(repository.Path, BackendFactory.Pool(manager ?? swarm.Manager, NullLoggerFactory.Instance), git, NullLoggerFactory.Instance);
        var pipeline = new SwarmPipeline(swarm, repository, workspace, scope);
        repository.WriteConfig(pipeline.ConfigWith(fields));
        return pipeline;
    }

    public async Task<RunResult> RunAsync(RunRequest request, Action<TaskProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var runner = await Workspace.GetRunnerAsync(cancellationToken);
        return await runner.RunAsync(request, progress is null ? null : new Inline(progress), cancellationToken);
    }

    public static TaskRequest Task(string id, params string[] steps) => new() { TaskId = id, Prompt = string.Join('\n', steps) };

    /// <summary>Waits (bounded) for the nodes to drop what a removed service had there, then proves nothing of this repository's runs is left anywhere.</summary>
    public async Task AssertNothingLeftAsync()
    {
        using var manager = _swarm.Manager.CreateClient();
        using var worker = _swarm.Worker.CreateClient();
        var scoped = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Labels.Scope}={Scope}"] = true } };
        async Task<string> LeftAsync(CancellationToken ct)
        {
            var services = await manager.Swarm.ListServicesAsync(new ServiceListParameters { Filters = scoped }, ct);
            var configs = (await manager.Configs.ListConfigsAsync(ct)).Where(c => c.Spec?.Labels is { } l && l.TryGetValue(Labels.Scope, out var v) && v == Scope);
            var secrets = (await manager.Secrets.ListAsync(ct)).Where(s => s.Spec?.Labels is { } l && l.TryGetValue(Labels.Scope, out var v) && v == Scope);
            var networks = await manager.Networks.ListNetworksAsync(new NetworksListParameters { Filters = scoped }, ct);
            var left = services.Select(s => $"service {s.Spec?.Name ?? s.ID}").Concat(configs.Select(c => $"config {c.Spec!.Name}")).Concat(secrets.Select(s => $"secret {s.Spec!.Name}"))
                .Concat(networks.Select(n => $"network {n.Name}")).ToList();
            foreach (var (node, client) in new[] { ("manager", manager), ("worker", worker) })
            {
                left.AddRange((await client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = scoped }, ct)).Select(c => $"container {c.ID[..12]} on the {node}"));

                // Anonymous volumes carry no labels: the nodes are this collection's alone and its tests run one at a time.
                left.AddRange(((await client.Volumes.ListAsync(new VolumesListParameters(), ct)).Volumes ?? []).Select(v => $"volume {v.Name[..12]} on the {node}"));
            }

            return string.Join(", ", left);
        }

        var clean = await Platform.Poll.UntilAsync(async ct => (await LeftAsync(ct)).Length == 0, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(90), CancellationToken.None);
        Assert.True(clean, $"left on the swarm: {await LeftAsync(CancellationToken.None)}");
        var worktrees = Path.Combine(Repository.GitDir, "sandbox-runner", "worktrees");
        Assert.True(!Directory.Exists(worktrees) || !Directory.EnumerateFileSystemEntries(worktrees).Any(), "task folders left behind");
    }

    public async ValueTask DisposeAsync()
    {
        var disposed = false;
        try
        {
            await Workspace.ShutdownAsync(CancellationToken.None);
            // The workspace's backends go with it, and with them their warm boxes: what is left is checked after that.
            Workspace.Dispose();
            disposed = true;
            await AssertNothingLeftAsync();
        }
        finally
        {
            if (!disposed)
            {
                Workspace.Dispose();
            }

            Repository.Dispose();
        }
    }

    private sealed class Inline(Action<TaskProgress> report) : IProgress<TaskProgress>
    {
        public void Report(TaskProgress value) => report(value);
    }
}
