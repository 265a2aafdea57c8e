using System.Diagnostics;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>The NuGet tool package as users install it: packed, installed with <c>dotnet tool install</c>, started by its command name.</summary>
[Collection(DockerCollection.Name)]
public sealed class McpPackedToolTests(DockerFixture docker)
{
    [Fact]
    public async Task The_packed_and_installed_tool_serves_every_tool_over_stdio()
    {
        var scratch = Path.Combine(Path.GetTempPath(), "sr-tests", "pack-" + Guid.NewGuid().ToString("N")[..12]);
        var feed = Path.Combine(scratch, "feed");
        var tools = Path.Combine(scratch, "tools");
        using var repository = new TestRepository();
        McpServerProcess.WriteConfig(repository);
        try
        {
            // Own artifacts folder: no clash with builds of src/ running at the same time.
            await DotnetAsync(RepoRoot.Path, "pack", Path.Combine(RepoRoot.Path, "src", "SandboxRunner"), "-c", "Release", "-o", feed, "--artifacts-path", Path.Combine(scratch, "artifacts"));
            var package = Assert.Single(Directory.GetFiles(feed, "SandboxRunner.*.nupkg"));
            var version = Path.GetFileNameWithoutExtension(package)["SandboxRunner.".Length..];

            // Only the local feed, so a package of the same name on nuget.org cannot be picked instead.
            var nugetConfig = Path.Combine(scratch, "nuget.config");
            await File.WriteAllTextAsync(nugetConfig, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            await DotnetAsync(scratch, "tool", "install", "--tool-path", tools, "--configfile", nugetConfig, "--version", version, "SandboxRunner");

            var command = Path.Combine(tools, "sandbox-runner");
            Assert.True(File.Exists(command), $"{command} was not installed");
            await using var server = await McpServerProcess.StartAsync(repository.Path, command: command);
            var listed = await server.Client.ListToolsAsync();

            Assert.Equal("sandbox-runner", server.Client.ServerInfo?.Name);
            Assert.Equal(
                ["apply_codex_result", "cancel_codex_run", "get_codex_run", "list_codex_runs", "review_plan_with_codex", "run_codex_tasks", "sandbox_doctor", "start_codex_run"],
                listed.Select(t => t.Name).Order(StringComparer.Ordinal));
            var doctor = await server.CallOkAsync("sandbox_doctor");
            // The installed tool reaches the engine; the number of checks is McpStdioTests' business.
            var engine = Assert.Single(doctor.GetProperty("checks").EnumerateArray(), c => c.GetProperty("check").GetString() == "docker");
            Assert.Equal("ok", engine.GetProperty("status").GetString());
        }
        finally
        {
            Platform.TreeDeletion.Delete(scratch);
            using var containers = new SandboxContainers(docker);
            await containers.AssertNoneLeftAsync(repository.Path);
        }
    }

    private static async Task DotnetAsync(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} took over 5 minutes");
        }

        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
    }
}
