//! Who is deploying, for the event log: the operating-system user (read from the system, not
//! only from `$USER`, which CI images often leave unset), the host, the git commit of the
//! migrations, and the CI run when there is one.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::env_vars;

/// Everything recorded about the person or job behind a change.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Who {
    pub os_user: Option<String>,
    pub host: Option<String>,
    /// `HEAD` of the repository the migrations are in, if they are in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// The migrations directory has changes that are not committed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub git_dirty: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<Ci>,
}

/// The CI run a change came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Ci {
    /// `github-actions` or `gitlab-ci`.
    pub system: &'static str,
    pub repository: Option<String>,
    /// GitHub's run id; GitLab's pipeline id.
    pub run_id: Option<String>,
    /// GitLab's job id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub actor: Option<String>,
    pub sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
}

impl Who {
    /// Reads everything from this process's system and environment; `migrations` is the
    /// directory whose git commit is recorded.
    pub(crate) fn here(migrations: &Path) -> Who {
        let (git_commit, git_dirty) = git_commit(migrations);
        Who {
            os_user: os_user(),
            host: host(),
            git_commit,
            git_dirty,
            ci: ci(|name| std::env::var(name).ok().filter(|v| !v.is_empty())),
        }
    }
}

/// Who approves or applies, as approvals are recorded and counted: the CI actor in a CI run
/// (`GITHUB_ACTOR`, `GITLAB_USER_LOGIN`), else the operating-system user. A name, not a
/// proof: stagegate records identities, it does not authenticate them.
pub(crate) fn identity() -> Option<String> {
    ci(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .and_then(|ci| ci.actor)
        .or_else(os_user)
}

/// The user this process runs as, from the system's user database; the environment only
/// where the system does not say.
pub(crate) fn os_user() -> Option<String> {
    user_or_variables(system_user(), |name| std::env::var(name).ok())
}

/// `system`, else the first of `USER`, `LOGNAME` and `USERNAME` (as `var` reads them) that is
/// not empty. (On Linux the system always says; this is what a system without `/proc` gets.)
fn user_or_variables(
    system: Option<String>,
    var: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    system.or_else(|| {
        [env_vars::USER, env_vars::LOGNAME, env_vars::USERNAME]
            .iter()
            .find_map(|name| var(name).filter(|v| !v.is_empty()))
    })
}

/// The name of the process's effective user in the system's user database (`uid N` where it
/// has none); nothing where the system cannot tell (no `/proc`, not Unix).
fn system_user() -> Option<String> {
    #[cfg(not(unix))]
    return None;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the process's effective user.
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        Some(user_name(&passwd, uid).unwrap_or_else(|| format!("uid {uid}")))
    }
}

/// The name of `uid` in /etc/passwd text.
fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let uid_field = fields.nth(1)?;
        (uid_field.parse::<u32>().ok()? == uid && !name.is_empty()).then(|| name.to_string())
    })
}

fn host() -> Option<String> {
    host_from(
        &[
            Path::new("/proc/sys/kernel/hostname"),
            Path::new("/etc/hostname"),
        ],
        |name| std::env::var(name).ok(),
    )
}

/// The first of `files` that holds a name (trimmed, not empty), else `HOSTNAME` (as `var`
/// reads it) if not empty. (On Linux the first file always holds one.)
fn host_from(files: &[&Path], var: impl Fn(&str) -> Option<String>) -> Option<String> {
    files
        .iter()
        .find_map(|path| {
            std::fs::read_to_string(path)
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty())
        })
        .or_else(|| var(env_vars::HOSTNAME).filter(|v| !v.is_empty()))
}

/// `HEAD` of the repository `dir` is in, and whether `dir` has uncommitted changes; nothing
/// when git is missing or `dir` is not in a repository.
fn git_commit(dir: &Path) -> (Option<String>, bool) {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse", "--verify", "HEAD"]).filter(|c| !c.is_empty()) else {
        return (None, false);
    };
    let dirty = git(&["status", "--porcelain", "--", "."]).is_some_and(|s| !s.is_empty());
    (Some(commit), dirty)
}

/// The CI run from its documented variables.
fn ci(var: impl Fn(&str) -> Option<String>) -> Option<Ci> {
    if var(env_vars::GITHUB_ACTIONS).as_deref() == Some("true") {
        return Some(Ci {
            system: "github-actions",
            repository: var(env_vars::GITHUB_REPOSITORY),
            run_id: var(env_vars::GITHUB_RUN_ID),
            job_id: None,
            actor: var(env_vars::GITHUB_ACTOR),
            sha: var(env_vars::GITHUB_SHA),
            workflow: var(env_vars::GITHUB_WORKFLOW),
        });
    }
    if var(env_vars::GITLAB_CI).as_deref() == Some("true") {
        return Some(Ci {
            system: "gitlab-ci",
            repository: var(env_vars::CI_PROJECT_PATH),
            run_id: var(env_vars::CI_PIPELINE_ID),
            job_id: var(env_vars::CI_JOB_ID),
            actor: var(env_vars::GITLAB_USER_LOGIN),
            sha: var(env_vars::CI_COMMIT_SHA),
            workflow: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_come_from_the_passwd_text() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      deploy:x:1001:1001::/home/deploy:/bin/sh\n";
        assert_eq!(user_name(passwd, 1001).as_deref(), Some("deploy"));
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 7), None);
    }

    #[test]
    fn ci_context_is_read_for_github_and_gitlab() {
        let github = |name: &str| {
            match name {
                "GITHUB_ACTIONS" => Some("true"),
                "GITHUB_REPOSITORY" => Some("acme/shop"),
                "GITHUB_RUN_ID" => Some("4242"),
                "GITHUB_ACTOR" => Some("octocat"),
                "GITHUB_SHA" => Some("abc123"),
                _ => None,
            }
            .map(str::to_string)
        };
        let ci_run = ci(github).unwrap();
        assert_eq!(ci_run.system, "github-actions");
        assert_eq!(ci_run.repository.as_deref(), Some("acme/shop"));
        assert_eq!(ci_run.run_id.as_deref(), Some("4242"));
        assert_eq!(ci_run.actor.as_deref(), Some("octocat"));
        assert_eq!(ci_run.sha.as_deref(), Some("abc123"));

        let gitlab = |name: &str| {
            match name {
                "GITLAB_CI" => Some("true"),
                "CI_PROJECT_PATH" => Some("acme/shop"),
                "CI_PIPELINE_ID" => Some("77"),
                "CI_JOB_ID" => Some("78"),
                "GITLAB_USER_LOGIN" => Some("alice"),
                "CI_COMMIT_SHA" => Some("def456"),
                _ => None,
            }
            .map(str::to_string)
        };
        let ci_run = ci(gitlab).unwrap();
        assert_eq!(ci_run.system, "gitlab-ci");
        assert_eq!(ci_run.job_id.as_deref(), Some("78"));
        assert_eq!(ci_run.actor.as_deref(), Some("alice"));
        assert!(ci(|_| None).is_none());
    }

    /// Where the system does not name the user, the first variable that is not empty does.
    /// (Mutants: the fallback's `!v.is_empty()` with the `!` deleted, which takes an empty
    /// `USER`; `user_or_variables` returning nothing or another name.)
    #[test]
    fn without_the_system_the_first_user_variable_that_is_not_empty_names_the_user() {
        let vars = |name: &str| {
            match name {
                "USER" => Some(""),
                "LOGNAME" => Some("deploy"),
                "USERNAME" => Some("other"),
                _ => None,
            }
            .map(str::to_string)
        };
        assert_eq!(user_or_variables(None, vars).as_deref(), Some("deploy"));
        assert_eq!(
            user_or_variables(Some("root".to_string()), vars).as_deref(),
            Some("root")
        );
        assert_eq!(user_or_variables(None, |_| Some(String::new())), None);
        assert_eq!(user_or_variables(None, |_| None), None);
    }

    /// The host is the first file's name, trimmed; an empty or missing file passes to the
    /// next, then to a `HOSTNAME` that is not empty. (Mutants: either `!...is_empty()` of
    /// `host_from` with the `!` deleted; `host_from` returning nothing or another name.)
    #[test]
    fn the_host_is_the_first_file_that_names_one_then_hostname() {
        let dir = tempfile::tempdir().unwrap();
        let blank = dir.path().join("blank");
        let named = dir.path().join("named");
        let missing = dir.path().join("missing");
        std::fs::write(&blank, " \n").unwrap();
        std::fs::write(&named, "db-7\n").unwrap();
        let hostname =
            |value: &'static str| move |name: &str| (name == "HOSTNAME").then(|| value.to_string());
        assert_eq!(
            host_from(&[&missing, &blank, &named], hostname("ci-9")).as_deref(),
            Some("db-7")
        );
        assert_eq!(
            host_from(&[&missing, &blank], hostname("ci-9")).as_deref(),
            Some("ci-9")
        );
        assert_eq!(host_from(&[&missing, &blank], hostname("")), None);
    }

    #[test]
    fn the_os_user_is_known_without_user_variables() {
        // The test process has a uid; its name (or "uid N") is found from the system.
        #[cfg(target_os = "linux")]
        assert!(system_user().is_some());
    }
}
