using System.Diagnostics;
using System.Text.Json;
using ModelContextProtocol;
using SandboxRunner.Host.Mcp;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// <c>.ci/install</c>, the README's way to the <c>sandbox-runner</c> command: from this checkout, with no package
/// feed, a wrapper on the PATH that runs the published host in any repository. Needs no Docker. The install runs once
/// for the class (it publishes the host ahead of time, framework included: a minute or two).
/// </summary>
public sealed class InstallScriptTests(InstallScriptTests.Installed installed) : IClassFixture<InstallScriptTests.Installed>
{
    [Fact]
    public async Task Install_puts_a_sandbox_runner_on_the_path_that_works_in_another_repository()
    {
        var runs = await RunAsync("sandbox-runner", ["runs"], installed.Repository, new() { ["PATH"] = $"{installed.Bin}:{Environment.GetEnvironmentVariable("PATH")}" });

        Assert.True(installed.Result.ExitCode == 0, installed.Result.ToString());
        Assert.Equal(Path.Combine(installed.Bin, "sandbox-runner"), installed.Wrapper);
        Assert.Equal($"{installed.Bin}\n", File.ReadAllText(installed.GithubPath));
        Assert.True(runs.ExitCode == 0, runs.ToString());
        Assert.Contains("no runs in this repository yet", runs.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_installed_server_lists_from_its_snapshot_exactly_the_tools_and_resources_this_build_makes_and_checks_calls_as_ever()
    {
        Assert.True(installed.Result.ExitCode == 0, installed.Result.ToString());
        await using var server = await McpServerProcess.StartAsync(installed.Repository, command: installed.Wrapper);

        var tools = await server.Client.ListToolsAsync();
        var templates = await server.Client.ListResourceTemplatesAsync();
        var refused = await server.CallAsync("get_codex_run", new() { ["run_id"] = "x", ["no_such_field"] = 1 });

        Assert.True(File.Exists(Path.Combine(installed.Root, "artifacts", "sandbox-runner", ToolSnapshot.FileName)), "the publish wrote no tool snapshot");
        Assert.Equal(Json(ToolCatalog.Create().Select(t => t.ProtocolTool)), Json(tools.Select(t => t.ProtocolTool)));
        Assert.Equal(Json(ResourceCatalog.Create().Select(r => r.ProtocolResourceTemplate)), Json(templates.Select(t => t.ProtocolResourceTemplate)));
        Assert.True(refused.IsError, McpServerProcess.Text(refused));
        Assert.Contains("no_such_field", McpServerProcess.Text(refused), StringComparison.Ordinal);
    }

    private static string Json<T>(IEnumerable<T> items) => JsonSerializer.Serialize(items.ToList(), McpJsonUtilities.DefaultOptions);

    private static async Task<CliResult> RunAsync(string program, string[] arguments, string directory, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(deadline.Token);
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary><c>.ci/install</c> run once into a scratch bin folder, with a repository of someone else's beside it.</summary>
    public sealed class Installed : IAsyncLifetime
    {
        private readonly string _folder = Directory.CreateTempSubdirectory("sr-install-").FullName;

        public string Root => RepoRoot.Path;

        public string Bin => Path.Combine(_folder, "bin");

        public string GithubPath => Path.Combine(_folder, "github-path");

        public string Repository => Path.Combine(_folder, "their-repo");

        public CliResult Result { get; private set; } = new(-1, "", "not installed");

        public string Wrapper => Result.Stdout.Trim();

        public async Task InitializeAsync()
        {
            Directory.CreateDirectory(Repository);
            TestRepository.RunGit(Repository, null, "init", "-q");
            Result = await RunAsync("bash", [Path.Combine(RepoRoot.Path, ".ci", "install")], RepoRoot.Path, new() { ["SANDBOX_RUNNER_BIN"] = Bin, ["GITHUB_PATH"] = GithubPath });
        }

        public Task DisposeAsync()
        {
            Directory.Delete(_folder, recursive: true);
            return Task.CompletedTask;
        }
    }
}
