using System.Diagnostics;
using System.Text.Json;
using SandboxRunner.IntegrationTests.Infrastructure;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Testcontainers;

namespace SandboxRunner.IntegrationTests.Testcontainers;

/// <summary>
/// What a team installs is what is tested: the solution packed into a local feed, and examples/CodexTasks.Example
/// restored from that feed alone (third-party packages from this machine's package cache) and run with
/// <c>dotnet test</c>, as a team's own test project would be.
/// </summary>
[Collection(DockerCollection.Name)]
public sealed class ExamplePackagesTests(DockerFixture docker)
{
    [Fact]
    public async Task The_example_project_restored_from_the_packed_packages_alone_passes_and_leaves_nothing_behind()
    {
        var scratch = Path.Combine(Path.GetTempPath(), "sr-tests", "example-" + Guid.NewGuid().ToString("N")[..12]);
        var feed = Path.Combine(scratch, "feed");
        var packages = Path.Combine(scratch, "packages");
        try
        {
            // Own artifacts folder: no clash with builds of src/ running at the same time.
            await DotnetAsync(RepoRoot.Path, null, "pack", Path.Combine(RepoRoot.Path, "SandboxRunner.sln"), "-c", "Release", "-o", feed, "--artifacts-path", Path.Combine(scratch, "artifacts"));
            var packed = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            var version = Path.GetFileNameWithoutExtension(Assert.Single(packed, p => p!.StartsWith("SandboxRunner.Testcontainers.", StringComparison.Ordinal)))!["SandboxRunner.Testcontainers.".Length..];
            Assert.Equal([$"SandboxRunner.{version}.nupkg", $"SandboxRunner.Core.{version}.nupkg", $"SandboxRunner.Testcontainers.{version}.nupkg"], packed);

            var example = Path.Combine(scratch, "examples", "CodexTasks.Example");
            CopyExample(Path.Combine(RepoRoot.Path, "examples"), Path.Combine(scratch, "examples"));
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            // The runner's packages only from the feed; the rest from this machine's cache. A fresh packages folder, so a
            // SandboxRunner package restored earlier cannot stand in for the one just packed.
            await File.WriteAllTextAsync(Path.Combine(example, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="checkout" value="{feed}" />
                    <add key="cache" value="{cache}" />
                  </packageSources>
                  <packageSourceMapping>
                    <packageSource key="checkout"><package pattern="SandboxRunner*" /></packageSource>
                    <packageSource key="cache"><package pattern="*" /></packageSource>
                  </packageSourceMapping>
                </configuration>
                """);

            var output = await DotnetAsync(example, packages, "test", "-p:SandboxRunnerVersion=" + version);

            Assert.Contains("Failed:     0, Passed:     3", output, StringComparison.Ordinal);
            foreach (var id in new[] { "sandboxrunner.testcontainers", "sandboxrunner.core" })
            {
                using var metadata = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(packages, id, version, ".nupkg.metadata")));
                Assert.Equal(feed, metadata.RootElement.GetProperty("source").GetString()!.TrimEnd('/'));
            }
        }
        finally
        {
            Platform.TreeDeletion.Delete(scratch);
        }

        // The example's test process has exited: nothing that carries the module's labels is left of it (or of any dead one).
        var module = LabelSelector.Of(SessionLabels.Owner);
        Assert.Equal(0, await docker.Engine.RemoveOrphansAsync(module, CancellationToken.None));
        var runImages = await docker.Engine.ListImagesAsync(module.And(Labels.Role, ImageRoles.Run), CancellationToken.None);
        Assert.DoesNotContain(runImages, i => Labels.IsOrphanedBy(i.Labels[SessionLabels.Owner]));
    }

    private static void CopyExample(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static async Task<string> DotnetAsync(string workingDirectory, string? packages, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        if (packages is not null)
        {
            psi.Environment["NUGET_PACKAGES"] = packages;
        }

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

        var output = await stdout + "\n" + await stderr;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed ({process.ExitCode}):\n{output}");
        return output;
    }
}
