using System.Diagnostics;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>A command of this machine (docker, git) a fixture runs to set up what it tests against.</summary>
internal static class HostCommand
{
    /// <summary>Runs <paramref name="file"/> to its end; a non-zero exit throws with <paramref name="what"/> (the command line by default) and its stderr.</summary>
    public static void Run(string file, IEnumerable<string> arguments, string? what = null, string? directory = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = directory ?? Environment.CurrentDirectory };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what ?? $"{file} {string.Join(' ', psi.ArgumentList)}"} failed: {err.Result}");
        }
    }
}
