using System.Diagnostics;

namespace CodexTasks.Example;

/// <summary>
/// A throwaway git repository made from the files under Fixture/ (an environment and its verify command in
/// .mcp-codex.json, a test script, a source file with a typo), committed once: what the tasks start from.
/// </summary>
public sealed class FixtureRepository : IDisposable
{
    public FixtureRepository()
    {
        Path = Directory.CreateTempSubdirectory("codex-tasks-example-").FullName;
        var fixture = System.IO.Path.Combine(AppContext.BaseDirectory, "Fixture");
        foreach (var file in Directory.EnumerateFiles(fixture, "*", SearchOption.AllDirectories))
        {
            var target = System.IO.Path.Combine(Path, System.IO.Path.GetRelativePath(fixture, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        Git("init", "-q", "-b", "main");
        Git("config", "user.name", "Example");
        Git("config", "user.email", "example@example.invalid");
        Git("add", "-A");
        Git("commit", "-qm", "fixture");
    }

    public string Path { get; }

    public string Git(params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = Path, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var git = Process.Start(psi)!;
        var output = git.StandardOutput.ReadToEnd();
        var error = git.StandardError.ReadToEnd();
        git.WaitForExit();
        return git.ExitCode == 0 ? output : throw new InvalidOperationException($"git {string.Join(' ', args)} failed: {error}");
    }

    public void Dispose()
    {
        // Task trees hold files owned by the container's user; git's own files are plain.
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
