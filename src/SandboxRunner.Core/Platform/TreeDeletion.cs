using System.Diagnostics;

namespace SandboxRunner.Platform;

/// <summary>
/// Removes a folder an agent has written into, whatever permissions it left, however deep it goes, and
/// without following its symlinks.
/// </summary>
public static class TreeDeletion
{
    private static readonly TimeSpan ToolBudget = TimeSpan.FromMinutes(2);

    /// <summary>Removes <paramref name="path"/>; throws <see cref="IOException"/> naming why when it cannot.</summary>
    public static void Delete(string path)
    {
        if (TryDelete(path) is { } problem)
        {
            throw new IOException(problem);
        }
    }

    /// <summary>Removes <paramref name="path"/>; returns null when it is gone, else what stopped it. Never throws.</summary>
    public static string? TryDelete(string path)
    {
        try
        {
            if (!Directory.Exists(path) && !File.Exists(path))
            {
                return null;
            }

            Directory.Delete(path, recursive: true);
            return null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException or ArgumentException)
        {
            // An agent may leave folders without write or execute bits, or paths longer than PATH_MAX
            // (which .NET cannot name: it fails with IOException or, deeper, ArgumentException). chmod and rm walk with openat, so neither stops them; -R does not
            // follow symlinks met on the way, and --one-file-system keeps rm off anything mounted inside.
            var chmod = Run("chmod", "-R", "u+rwx", "--", path);
            var rm = Run("rm", "-rf", "--one-file-system", "--", path);
            return Directory.Exists(path) || File.Exists(path)
                ? $"could not remove '{path}': {e.Message}; chmod: {chmod}; rm: {rm}"
                : null;
        }
    }

    private static string Run(string tool, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in args)
            {
                psi.ArgumentList.Add(arg);
            }

            using var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(ToolBudget))
            {
                process.Kill(entireProcessTree: true);
                return $"timed out after {ToolBudget.TotalSeconds:F0} s";
            }

            var text = stderr.Result.Trim();
            return process.ExitCode == 0 ? "ok" : $"exit {process.ExitCode} {(text.Length > 300 ? text[..300] : text)}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return e.Message;
        }
    }
}
