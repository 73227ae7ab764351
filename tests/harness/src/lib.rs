//! The test harness: real servers on 127.0.0.1 for sluice's end-to-end tests
//! (Git servers and a kube-apiserver; modules are added as they land).
