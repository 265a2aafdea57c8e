using System.Diagnostics;

namespace SandboxRunner.Benchmarks;

/// <summary>Runs a command line tool (docker, git) and fails loudly with its stderr when it does.</summary>
internal static class Shell
{
    public static async Task<string> RunAsync(
        string file,
        IEnumerable<string> args,
        CancellationToken cancellationToken,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        Func<Stream, Task>? writeStdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = writeStdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        // Inherited GIT_* variables would retarget git calls.
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(name);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"{file} could not be started");
        using var kill = cancellationToken.Register(() =>
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        });

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        if (writeStdin is not null)
        {
            try
            {
                await writeStdin(process.StandardInput.BaseStream);
            }
            finally
            {
                process.StandardInput.Close();
            }
        }

        await process.WaitForExitAsync(CancellationToken.None);
        cancellationToken.ThrowIfCancellationRequested();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', psi.ArgumentList)} failed with exit code {process.ExitCode}: {(await stderr).Trim()}");
        }

        return await stdout;
    }

    public static Task<string> GitAsync(string repository, CancellationToken cancellationToken, params string[] args) =>
        RunAsync("git", ["-C", repository, .. args], cancellationToken);
}
