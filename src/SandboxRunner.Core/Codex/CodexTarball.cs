using System.Diagnostics;

namespace SandboxRunner.Codex;

/// <summary>
/// Where the Linux build of a Codex CLI version is published: the npm package <c>@openai/codex</c> ships it
/// as version <c>&lt;ver&gt;-linux-x64</c>. Asked of npm itself, so whatever registry the user's npm is set
/// up for is the one used.
/// </summary>
public static class CodexTarball
{
    public static async Task<string> ResolveAsync(string codexVersion, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("npm") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["view", $"@openai/codex@{codexVersion}-linux-x64", "dist.tarball"])
        {
            psi.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("npm could not be started");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException(
                "npm is needed to locate the Codex CLI tarball for the task image; install Node.js, or build Dockerfile.codex by hand and set \"image\"");
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken);
            var url = (await stdout).Trim();
            if (process.ExitCode != 0 || !url.StartsWith("http", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"npm found no Codex CLI {codexVersion} for linux-x64: {(await stderr).Trim()}");
            }

            return url;
        }
    }

    /// <summary>Whether npm is there to ask; for dry runs, which check that the image can be built without building it.</summary>
    public static bool NpmAvailable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, "npm")));
}
